"""``GET /admin/api/catalog?window=1h|24h|7d``: each catalog's last run and items per destination, the
content_ids check over the window, and the lookalike audiences of each audience."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.admin.api import admin_guard
from relay.audiences.lookalike import describe as describe_lookalikes
from relay.audiences.lookalike import pending
from relay.catalog.checks import catalog_id
from relay.catalog.coverage import content_coverage
from relay.catalog.scheduler import next_run_at
from relay.http.responses import error
from relay.outcome import last_summary
from relay.periodic import running
from relay.settings import Settings
from relay.state import RelayState
from relay.storage import catalog as store
from relay.storage.reports import WINDOWS

DEFAULT_WINDOW = "24h"


def warnings(coverage: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """One sentence per (connector, event name) with content ids missing from the catalog."""
    out = []
    for connector, events in coverage.items():
        for name, counts in events.items():
            if counts["missing"]:
                share = round(counts["missing_share"] * 100)
                out.append(f"{share}% of {name} content_ids sent to {connector} are not in your catalog")
    return out


def catalogs(settings: Settings, rows: Mapping[str, Any], counts: Mapping[Any, Any], now: float) -> list[Any]:
    out = []
    for name, catalog in settings.catalogs.items():
        row = rows.get(name) or {}
        summary = last_summary(row)
        status = row.get("status", "never")
        if running(row, now):
            status = "running"
        destinations = []
        for dest, options in catalog.destinations.items():
            platform = catalog_id(settings.connectors[dest], options.catalog_id)
            held = counts.get((name, dest), {"items": 0, "refused": 0})
            destinations.append({"destination": dest, "catalog_id": platform, **held})
        out.append(
            {
                "name": name,
                "source": catalog.source.type,
                "schedule": catalog.schedule,
                "status": status,
                "started_at": row.get("started_at"),
                "finished_at": row.get("finished_at"),
                "next_run_at": next_run_at(catalog, row or None, now),
                "error": row.get("error"),
                "last_run": summary,
                "destinations": destinations,
            }
        )
    return out


async def report(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    window = WINDOWS.get(request.query_params.get("window") or DEFAULT_WINDOW)
    if window is None:
        return error("invalid_request", f"window must be one of {', '.join(WINDOWS)}")
    relay: RelayState = request.app.state.relay
    db, now = relay.db, time.time()
    rows = await db.run(store.sync_rows, db.engine)
    counts = await db.run(store.item_counts, db.engine)
    coverage = await content_coverage(relay.settings, db, now - window.seconds, now + 1)
    recorded = await db.run(store.lookalike_rows, db.engine)
    lookalikes = describe_lookalikes([*recorded, *pending(relay.settings, recorded)])
    body = {
        "catalogs": catalogs(relay.settings, rows, counts, now),
        "content_ids": {"window": window.name, "connectors": coverage, "warnings": warnings(coverage)},
        "lookalikes": lookalikes,
    }
    return JSONResponse(body)


__all__ = ["report", "warnings"]
