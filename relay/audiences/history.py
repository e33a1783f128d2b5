"""The record of a finished run, as stored in the run history (``audience_runs``) and shown by the admin
API, the dashboard and ``relay audiences status``.

Per destination: its outcome, what it added and removed, how many members failed (refused by the
platform, or left unsent by a destination that failed: the next run sends them), the members it holds
after the run and, when the connector can tell, the size its platform reports. Errors are masked
with every connector's secrets, like every recorded text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from connectors.base import Connector, SecretHolder
from relay.audiences.context import SyncEnv
from relay.audiences.results import AudienceRun, DestinationResult
from relay.exceptions import RelayError
from relay.masking import mask_text
from relay.storage import audiences as store

log = logging.getLogger("relay.audiences")
#: how a run was started: by the scheduler, by ``relay audiences sync``, or by code calling the sync
TRIGGERS = ("schedule", "cli", "api")
#: outcomes that are recorded (a dry run and a run refused as ``busy`` changed nothing)
RECORDED = ("ok", "partial", "failed", "interrupted")
Mask = Callable[[str | None], str | None]
#: seconds a platform is given to report an audience's size
SIZE_TIMEOUT = 10.0


@runtime_checkable
class SizedAudienceConnector(Protocol):
    """Optional: a connector that can ask its platform how many members an audience holds (often an
    estimate, e.g. Meta's ``approximate_count_lower_bound``); None when the platform does not say."""

    async def audience_size(self, audience_id: str) -> int | None: ...


def failed_members(d: DestinationResult) -> int:
    """Members the platform refused, plus those a failed destination left unsent."""
    unsent = 0
    if d.status == "failed":
        unsent = max(d.to_add - d.added, 0) + max(d.to_remove - d.removed, 0)
    return d.platform_invalid + unsent


def _masker(connectors: Mapping[str, Connector]) -> Mask:
    secrets = [s for c in connectors.values() if isinstance(c, SecretHolder) for s in c.secrets() if s]

    def mask(text: str | None) -> str | None:
        return None if text is None else mask_text(text, secrets)[:1000]

    return mask


def destination_entry(
    d: DestinationResult, size: int | None, platform_size: int | None, mask: Mask
) -> dict[str, Any]:
    """One destination's entry of a recorded run."""
    return {
        "status": d.status,
        "mode": d.mode,
        "members": d.staged,
        "added": d.added,
        "removed": d.removed,
        "unchanged": d.unchanged,
        "failed": failed_members(d),
        "size": size,
        "platform_size": platform_size,
        "error": mask(d.error),
    }


def run_row(
    run: AudienceRun,
    trigger: str,
    sizes: Mapping[str, int],
    platform_sizes: Mapping[str, int | None],
    connectors: Mapping[str, Connector],
) -> dict[str, Any]:
    """The ``audience_runs`` row of a finished run."""
    mask = _masker(connectors)
    destinations = {
        d.destination: destination_entry(
            d, sizes.get(d.destination, 0), platform_sizes.get(d.destination), mask
        )
        for d in run.destinations
    }
    return {
        "audience": run.audience,
        "trigger": trigger,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "members": max((d.staged for d in run.destinations), default=None),
        "added": sum(d.added for d in run.destinations),
        "removed": sum(d.removed for d in run.destinations),
        "failed": sum(e["failed"] for e in destinations.values()),
        "error": mask(run.error),
        "destinations": destinations,
    }


async def platform_sizes(env: SyncEnv, run: AudienceRun) -> dict[str, int | None]:
    """What each destination's platform reports as the audience's size, where its connector can tell."""
    out: dict[str, int | None] = {}
    for d in run.destinations:
        connector = env.connectors.get(d.destination)
        if not isinstance(connector, SizedAudienceConnector) or d.status != "ok":
            continue
        try:  # a size is a nicety: whatever goes wrong asking for it, the run is recorded without it
            out[d.destination] = await asyncio.wait_for(connector.audience_size(d.audience_id), SIZE_TIMEOUT)
        except Exception as exc:
            reason = exc.message if isinstance(exc, RelayError) else type(exc).__name__
            log.warning(
                "audience size not read",
                extra={"audience": run.audience, "connector": d.destination, "error": reason},
            )
    return out


async def record(env: SyncEnv, run: AudienceRun, trigger: str) -> None:
    """Store the finished ``run`` in the history (a storage failure is logged, the run stands)."""
    if run.status not in RECORDED:
        return
    db = env.db
    try:
        sizes = await db.run(store.acknowledged_counts, db.engine, run.audience)
        row = run_row(run, trigger, sizes, await platform_sizes(env, run), env.connectors)
        await db.run(store.record_run, db.engine, row)
    except RelayError as exc:
        log.warning("audience run not recorded", extra={"audience": run.audience, "error": exc.message})


__all__ = [
    "RECORDED",
    "TRIGGERS",
    "SizedAudienceConnector",
    "failed_members",
    "platform_sizes",
    "record",
    "run_row",
]
