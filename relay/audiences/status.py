"""Last run status per audience, read from the database so every process shows the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from relay import periodic
from relay.audiences.context import SyncEnv
from relay.outcome import last_summary
from relay.periodic import RETRY_AFTER_FAILURE
from relay.settings import AudienceSettings
from relay.storage import audiences as store

#: the outcomes after which a scheduled run is tried again soon
RETRY = ("failed", "partial")


def next_run_at(audience: AudienceSettings, row: Mapping[str, Any] | None, now: float) -> float | None:
    """When the scheduler runs the audience next (None for ``schedule: manual``)."""
    return periodic.next_run_at(audience.schedule, row, now, retry=RETRY)


def describe(
    name: str, audience: AudienceSettings, row: Mapping[str, Any] | None, now: float
) -> dict[str, Any]:
    """One audience's entry of ``GET /admin/api/stats`` → ``audiences``."""
    summary = last_summary(row)
    status = row["status"] if row else "never"
    if periodic.running(row, now):
        status = "running"
    elif status == "running":
        status = "interrupted"  # its process stopped before it finished; the next run resumes
    return {
        **summary,
        "status": status,
        "source": audience.source.type,
        "schedule": audience.schedule,
        "destinations_configured": sorted(audience.destinations),
        "started_at": row.get("started_at") if row else None,
        "finished_at": row.get("finished_at") if row else None,
        "next_run_at": next_run_at(audience, row, now),
        "error": row.get("error") if row else None,
    }


async def audience_status(env: SyncEnv, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The status of the configured audiences (all, or ``names``)."""
    rows = await env.db.run(store.sync_rows, env.db.engine)
    now = env.clock()
    audiences = env.settings.audiences
    wanted = audiences if names is None else [n for n in names if n in audiences]
    return {name: describe(name, audiences[name], rows.get(name), now) for name in wanted}


__all__ = ["RETRY", "RETRY_AFTER_FAILURE", "audience_status", "describe", "next_run_at"]
