"""The dashboard's reports over the admin API: time series, match-key coverage, audiences."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.admin.api import admin_guard
from relay.audiences import SyncEnv, audience_status
from relay.http.responses import error
from relay.state import RelayState
from relay.storage import audiences as audience_store
from relay.storage import reports
from relay.storage.reports import WINDOWS, Window

DEFAULT_WINDOW = "24h"
#: runs of each audience shown by ``GET /admin/api/audiences`` (the dashboard's chart and table)
RECENT_RUNS = 12
#: runs per page of ``GET /admin/api/audiences/{name}/runs`` unless ``limit`` says otherwise
RUNS_PER_PAGE = 20


async def _guarded_window(request: Request) -> Window | Response:
    """The ``window`` of an admin request, or the response refusing the request or its window."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    name = request.query_params.get("window") or DEFAULT_WINDOW
    window = WINDOWS.get(name)
    if window is None:
        return error("invalid_request", f"window must be one of {', '.join(WINDOWS)}")
    return window


async def timeseries(request: Request) -> Response:
    """``GET /admin/api/timeseries?window=1h|24h|7d``: per bucket, events received and, per connector,
    deliveries by status and consent decision and the latency to delivery."""
    window = await _guarded_window(request)
    if isinstance(window, Response):
        return window
    relay: RelayState = request.app.state.relay
    data = await relay.db.run(reports.timeseries, relay.db.engine, window, time.time())
    return JSONResponse(data)


async def coverage(request: Request) -> Response:
    """``GET /admin/api/coverage?window=``: per connector, the share of events carrying each match key."""
    window = await _guarded_window(request)
    if isinstance(window, Response):
        return window
    relay: RelayState = request.app.state.relay
    now = time.time()
    items = await relay.db.run(reports.coverage, relay.db.engine, now - window.seconds, now + 1)
    return JSONResponse({"window": window.name, "since": now - window.seconds, "connectors": items})


async def audiences(request: Request) -> Response:
    """``GET /admin/api/audiences``: each audience's last run, per destination its size (members the
    platform acknowledged) and what the last run added and removed, and its last runs (newest first)."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    status = await audience_status(SyncEnv.from_relay(relay))
    sizes = await relay.db.run(reports.audience_sizes, relay.db.engine)
    recent = await relay.db.run(audience_store.recent_runs, relay.db.engine, list(status), RECENT_RUNS)
    items = [_audience(name, s, sizes.get(name, {}), recent.get(name, [])) for name, s in status.items()]
    return JSONResponse({"items": items})


async def audience_runs(request: Request) -> Response:
    """``GET /admin/api/audiences/{name}/runs?before=&limit=``: the audience's recorded runs, newest
    first; ``next_before`` is the cursor of the next (older) page, null on the last."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    name = request.path_params["name"]
    if name not in relay.settings.audiences:
        return error("not_found", f"no audience named {name[:100]!r}")
    try:
        q = request.query_params
        before, limit = _run_cursor(q.get("before")), _run_limit(q.get("limit"))
    except ValueError as exc:
        return error("invalid_request", str(exc))
    page = await relay.db.run(audience_store.runs_page, relay.db.engine, name, before, limit)
    return JSONResponse({"audience": name, **page})


def _run_cursor(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**63:
        raise ValueError("before must be a run id (a positive whole number)")
    return int(value)


def _run_limit(value: str | None) -> int:
    if not value:
        return RUNS_PER_PAGE
    if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 9:
        raise ValueError(f"limit must be a whole number (1 to {audience_store.MAX_RUNS_PAGE})")
    return min(max(int(value), 1), audience_store.MAX_RUNS_PAGE)


def _audience(
    name: str, status: dict[str, Any], sizes: dict[str, int], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    last_run = status.get("destinations") or {}
    destinations = []
    for dest in status.get("destinations_configured") or []:
        run = last_run.get(dest) or {}
        destinations.append(
            {
                "name": dest,
                "size": sizes.get(dest, 0),
                "status": run.get("status"),
                "added": run.get("added"),
                "removed": run.get("removed"),
                "mode": run.get("mode"),
                "error": run.get("error"),
            }
        )
    return {
        "name": name,
        "source": status.get("source"),
        "schedule": status.get("schedule"),
        "status": status.get("status"),
        "started_at": status.get("started_at"),
        "finished_at": status.get("finished_at"),
        "next_run_at": status.get("next_run_at"),
        "error": status.get("error"),
        "members": runs[0]["members"] if runs else None,
        "destinations": destinations,
        "runs": runs,
    }
