"""The campaign-results page (``/admin/results``) and its admin API: the report, and the stored order
reconciliation runs. Same sign-in, session and Content-Security-Policy rules as the dashboard."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from relay.admin.api import admin_guard
from relay.admin.dashboard import LOGIN, content_security_policy
from relay.admin.session import is_admin
from relay.exceptions import StorageError
from relay.http.responses import error
from relay.results import GROUPS, WINDOWS, ResultsQuery, campaign_results
from relay.state import RelayState
from relay.storage import reconcile as reconcile_store
from relay.storage.results import run_read

STATIC = Path(__file__).parent / "static"
DEFAULT_WINDOW = "7d"
DEFAULT_GROUP = "campaign"
MAX_RUNS = 50
#: a report is reused for this many times its computing time (at least MIN_REUSE seconds): a 30-day
#: window of a busy site costs seconds, and the page refreshes on its own
REUSE_FACTOR, MIN_REUSE = 5.0, 15.0


@functools.cache
def _page(name: str) -> tuple[str, str]:
    page = LOGIN.replace("{message}", "") if name == "login" else (STATIC / name).read_text(encoding="utf-8")
    return page, content_security_policy(page)


def _html(name: str, status: int = 200) -> HTMLResponse:
    page, policy = _page(name)
    headers = {"cache-control": "no-store", "content-security-policy": policy}
    return HTMLResponse(page, status, headers=headers)


async def page(request: Request) -> Response:
    """``GET /admin/results``: the page (its data comes from the API below), or the sign-in form."""
    if not await is_admin(request):
        return _html("login", 401)
    return _html("results.html")


async def results(request: Request) -> Response:
    """``GET /admin/api/results?window=24h|7d|30d&group=source|medium|campaign``."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    window = request.query_params.get("window") or DEFAULT_WINDOW
    group = request.query_params.get("group") or DEFAULT_GROUP
    if window not in WINDOWS:
        return error("invalid_request", f"window must be one of {', '.join(WINDOWS)}")
    if group not in GROUPS:
        return error("invalid_request", f"group must be one of {', '.join(GROUPS)}")
    relay: RelayState = request.app.state.relay
    try:
        data = await _report(relay, window, group)
    except StorageError:
        return error("storage_unavailable", "the results could not be read; retry")
    return JSONResponse(data)


async def _report(relay: RelayState, window: str, group: str) -> dict[str, Any]:
    """The report, computed one at a time (refreshes must not pile up) and reused for a while."""
    lock: asyncio.Lock = relay.extras.setdefault("results_lock", asyncio.Lock())
    cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = relay.extras.setdefault("results_cache", {})
    async with lock:
        found = cache.get((window, group))
        if found is not None and time.time() < found[0]:
            return found[1]
        started = time.time()
        data = await run_read(campaign_results, relay.db.engine, ResultsQuery(window, group, started))
        took = time.time() - started
        data["computed_at"], data["took_seconds"] = started, round(took, 3)
        cache[(window, group)] = (started + max(MIN_REUSE, REUSE_FACTOR * took), data)
        return data


async def reconcile_runs(request: Request) -> Response:
    """``GET /admin/api/reconcile?limit=``: the newest runs; the newest one with its findings."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    raw = request.query_params.get("limit") or "10"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= MAX_RUNS:
        return error("invalid_request", f"limit must be a whole number from 1 to {MAX_RUNS}")
    relay: RelayState = request.app.state.relay
    engine = relay.db.engine
    runs = await relay.db.run(reconcile_store.recent_runs, engine, int(raw))
    latest = await relay.db.run(functools.partial(reconcile_store.recent_runs, engine, 1, items=True))
    configured = relay.settings.reconcile
    return JSONResponse(
        {
            "configured": configured is not None,
            "schedule": configured.schedule if configured else None,
            "runs": runs,
            "latest": latest[0] if latest else None,
        }
    )


__all__ = ["page", "reconcile_runs", "results"]
