"""The scheduled reconciliation: inside ``relay serve`` / ``relay worker``, every ``reconcile.schedule``.

When the next run is due is computed from the stored runs (the last scheduled one's start), so a
restart does not run it again early; ``schedule: manual`` (the default) never runs here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from relay.duration import parse_duration
from relay.exceptions import RelayError
from relay.periodic import BaseScheduler
from relay.reconcile.run import ReconcileOptions, reconcile
from relay.storage import reconcile as store

if TYPE_CHECKING:
    from relay.state import RelayState

log = logging.getLogger("relay.reconcile")


class ReconcileScheduler(BaseScheduler):
    """One loop, when ``reconcile.schedule`` is a duration."""

    task_prefix = "relay-reconcile"

    def __init__(self, relay: RelayState, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.relay = relay
        self.clock = clock

    def jobs(self) -> dict[str, float]:
        config = self.relay.settings.reconcile
        if config is None or config.schedule == "manual":
            return {}
        return {"orders": parse_duration(config.schedule)}

    async def due(self, name: str) -> tuple[float, float | None]:
        db, config = self.relay.db, self.relay.settings.reconcile
        assert config is not None
        last = await db.run(store.last_started, db.engine, "schedule")
        return self.clock(), (last or 0.0) + parse_duration(config.schedule)

    async def run_job(self, name: str) -> None:
        relay, config = self.relay, self.relay.settings.reconcile
        assert config is not None
        options = ReconcileOptions("schedule", config.send_missing)
        outcome = await reconcile(relay.settings, config, relay.db, relay.connectors, options)
        summary = outcome.report.summary()
        log.info(
            "scheduled reconciliation",
            extra={
                "status": outcome.report.status,
                "orders": summary["orders"],
                "not_tracked": summary["not_tracked"],
            },
        )

    def failed(self, name: str, exc: RelayError) -> None:
        log.warning("scheduled reconciliation failed", extra={"error": exc.message})


__all__ = ["ReconcileScheduler"]
