"""One reconciliation: read the orders, find their conversions, compare, optionally send the missing
ones, store the run. Shared by ``relay reconcile`` and the scheduled job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Connector
from relay.duration import parse_duration
from relay.reconcile.compare import Report, compare
from relay.reconcile.orders import OrderBatch, OrdersError, describe, read_orders
from relay.reconcile.send import Sent, send_missing
from relay.settings import ReconcileSettings, Settings
from relay.storage import reconcile as store
from relay.storage.db import Database
from relay.storage.reconcile import Lookup
from relay.storage.results import run_read

#: findings kept with a stored run (the report printed by the CLI has them all)
MAX_STORED = 1000
#: conversions are looked for from a day before the first order to two days after the last
BEFORE, AFTER = 86400.0, 2 * 86400.0


@dataclass(frozen=True)
class ReconcileOptions:
    trigger: str = "cli"
    send_missing: bool = False
    #: orders at or after this time (default: ``now - reconcile.window``)
    since: float | None = None


@dataclass
class Outcome:
    config: ReconcileSettings
    report: Report
    sent: Sent | None
    run_id: int
    started_at: float
    finished_at: float
    outside_window: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.report.status,
            "source": describe(self.config.source),
            "match": self.config.match,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "summary": {**self.report.summary(), "outside_window": self.outside_window},
            "findings": [f.as_dict() for f in self.report.findings],
            "send_missing": self.sent.as_dict() if self.sent is not None else None,
        }


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """No progress output."""


async def reconcile(
    settings: Settings,
    config: ReconcileSettings,
    db: Database,
    connectors: Mapping[str, Connector],
    options: ReconcileOptions,
    progress: Say = _quiet,
) -> Outcome:
    """Run once and store the run; :class:`OrdersError` (stored as an ``error`` run) when the orders
    cannot be read."""
    started = time.time()
    progress(f"reading orders: {describe(config.source)}")
    try:
        batch: OrderBatch = await asyncio.to_thread(read_orders, config.source)
    except OrdersError as exc:
        await db.run(store.save_run, db.engine, _row(config, options, started, None, error=exc.message))
        raise
    since = options.since if options.since is not None else started - parse_duration(config.window)
    orders = [o for o in batch.orders if o.at >= since]
    progress(
        f"read {len(batch.orders)} orders ({len(batch.invalid)} invalid rows, {len(orders)} in the window)"
    )
    found: dict[str, Any] = {}
    if orders:
        times = [o.at for o in orders]
        lookup = Lookup(config.event_name, config.match, min(times) - BEFORE, max(times) + AFTER)
        progress(f"matching by {config.match} against stored {config.event_name} conversions")
        # a read: in a thread of its own, never holding up the (SQLite) writer thread ingest uses
        found = await run_read(store.conversions, db.engine, [o.order_id for o in orders], lookup)
    report = compare(orders, found, config.value_tolerance, batch.invalid)
    progress(f"compared: {report.matched} matched, {report.differences} differences")
    sent = None
    if options.send_missing:
        progress(f"sending {len(report.missing)} never-tracked orders where consent allows")
        sent = await db.run(
            send_missing,
            settings,
            db,
            connectors,
            report.missing,
            config.event_name,
            config.match,
            parse_duration(config.send_missing_after),
        )
    outcome = Outcome(config, report, sent, 0, started, time.time(), len(batch.orders) - len(orders))
    outcome.run_id = await db.run(store.save_run, db.engine, _row(config, options, started, outcome))
    progress(f"stored as run {outcome.run_id}")
    return outcome


def _row(
    config: ReconcileSettings,
    options: ReconcileOptions,
    started: float,
    outcome: Outcome | None,
    error: str | None = None,
) -> dict[str, Any]:
    data = outcome.as_dict() if outcome is not None else {}
    summary = data.get("summary", {})
    if outcome is not None and outcome.sent is not None:
        summary = {
            **summary,
            "sent": len(outcome.sent.sent),
            "not_sent": len(outcome.report.missing) - len(outcome.sent.sent),
        }
    return {
        "started_at": started,
        "finished_at": time.time(),
        "trigger": options.trigger,
        "source": describe(config.source),
        "status": outcome.report.status if outcome is not None else "error",
        "orders": outcome.report.orders if outcome is not None else 0,
        "summary": summary,
        "items": data.get("findings", [])[:MAX_STORED],
        "error": error,
    }


__all__ = ["MAX_STORED", "Outcome", "ReconcileOptions", "reconcile"]
