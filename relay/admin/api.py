"""The admin API (CONTRACT §3, Operations), behind ``server.admin_token``."""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.admin.csrf import SAFE_METHODS, cross_site_refusal
from relay.admin.session import is_admin, uses_cookie
from relay.audiences import SyncEnv, audience_status
from relay.duration import parse_instant
from relay.http.body import BodyError, read_json
from relay.http.responses import error
from relay.state import RelayState
from relay.storage import queries, reports
from relay.storage.queries import DeliveryFilter
from relay.storage.reports import PageFilter

STATUSES = ("pending", "in_flight", "delivered", "dead", "skipped")
#: the keys of a replay body: the CLI's filters
REPLAY_KEYS = ("status", "connector", "event_id", "since", "until")
MAX_FILTER_CHARS = 255


class FilterError(ValueError):
    """A filter value the admin API does not take; the message is the answer's detail."""


async def admin_guard(request: Request) -> Response | None:
    """401 without the admin token or a live session; 403 for a state-changing request that may come
    from another site (see ``relay.admin.csrf``); None when the request may go on."""
    if not await is_admin(request):
        return _unauthorized()
    if request.method in SAFE_METHODS:
        return None
    return cross_site_refusal(request, require_json=uses_cookie(request))


def _unauthorized() -> Response:
    return error("unauthorized", "send Authorization: Bearer <server.admin_token>")


async def not_found(request: Request) -> Response:
    """Any other ``/admin/*`` path: 401 without the token (every admin route is protected), else 404."""
    if (refused := await admin_guard(request)) is not None:
        return refused
    return error("not_found", f"no such admin endpoint: {request.url.path}")


async def deliveries(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    q = request.query_params
    try:
        f = PageFilter(
            status=_status(q.get("status") or None, None),
            connector=_text(q.get("connector") or None, "connector"),
            event_id=_text(q.get("event_id") or None, "event_id"),
            event_name=_text(q.get("event_name") or None, "event_name"),
            before=_before(q.get("before")),
            limit=_limit(q.get("limit")),
        )
    except FilterError as exc:
        return error("invalid_event", str(exc))
    # newest first; ``next_before`` is the cursor of the next (older) page, null on the last
    page = await relay.db.run(reports.deliveries_page, relay.db.engine, f)
    return JSONResponse(page)


async def replay(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    server = relay.settings.server
    try:
        body = await read_json(
            request, server.max_body_bytes, server.body_timeout_seconds, empty_is_none=True
        )
    except BodyError as exc:
        return exc.response
    try:
        f = replay_filter({} if body is None else body)
    except FilterError as exc:
        return error("invalid_event", str(exc))
    n = await relay.db.run(queries.replay, relay.db.engine, f, time.time())
    return JSONResponse({"requeued": n})


def replay_filter(body: Any) -> DeliveryFilter:
    """The filter of a replay body (the CLI's filters), or :class:`FilterError` naming what is wrong."""
    if not isinstance(body, dict):
        raise FilterError(f"send a JSON object of filters: {', '.join(REPLAY_KEYS)}")
    unknown = sorted(str(k) for k in body if k not in REPLAY_KEYS)
    if unknown:
        raise FilterError(f"unknown filter {unknown[0][:40]!r}; the filters are {', '.join(REPLAY_KEYS)}")
    return DeliveryFilter(
        status=_status(body.get("status"), "dead"),
        connector=_text(body.get("connector"), "connector"),
        event_id=_text(body.get("event_id"), "event_id"),
        since=_instant(body.get("since"), "since"),
        until=_instant(body.get("until"), "until"),
    )


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FilterError(f"{name} must be a string")
    if len(value) > MAX_FILTER_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FilterError(f"{name} must be at most {MAX_FILTER_CHARS} printable characters")
    return value


def _status(value: Any, default: str | None) -> str | None:
    status = _text(value, "status") or default
    if status is not None and status not in STATUSES:
        raise FilterError(f"status must be one of {', '.join(STATUSES)}")
    return status


def _instant(value: Any, name: str) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise FilterError(f"{name} must be an ISO-8601 time (string) or Unix seconds (number)")
    try:
        instant = parse_instant(value)
    except (ValueError, OverflowError):
        raise FilterError(f"{name} must be an ISO-8601 time or Unix seconds") from None
    if instant is not None and not math.isfinite(instant):
        raise FilterError(f"{name} must be a finite number of Unix seconds")
    return instant


def _before(value: str | None) -> int | None:
    if not value:
        return None
    try:
        before = int(value)
    except ValueError:
        raise FilterError("before must be a delivery id (a whole number)") from None
    if not 0 < before < 2**63:
        raise FilterError("before must be a positive delivery id")
    return before


def _limit(value: str | None) -> int:
    if not value:
        return 100
    try:
        return min(max(int(value), 1), 1000)
    except ValueError:
        raise FilterError("limit must be a whole number") from None


async def stats(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    data = await relay.db.run(queries.stats, relay.db.engine, time.time())
    # read from storage: right with several workers, and under --no-worker
    data["audiences"] = await audience_status(SyncEnv.from_relay(relay))
    return JSONResponse(data)


async def event_trace(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    event_id = request.path_params["event_id"]
    try:
        _text(event_id, "event_id")
    except FilterError as exc:
        return error("invalid_event", str(exc))
    trace = await relay.db.run(queries.event_trace, relay.db.engine, event_id)
    if not trace:
        return error("not_found", f"no event with event_id {event_id!r}")
    return JSONResponse({"event_id": event_id, "events": trace})


async def connectors(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    return JSONResponse({"items": await connector_overview(relay)})


async def connector_overview(relay: RelayState) -> list[dict[str, Any]]:
    states = await relay.db.run(queries.connector_states, relay.db.engine)
    pending = await relay.db.run(queries.pending_counts, relay.db.engine)
    out = []
    for name, connector in relay.connectors.items():
        st = states.get(name, {})
        out.append(
            {
                "name": name,
                "type": connector.settings.type,
                "state": st.get("state", "active"),
                "reason": st.get("reason"),
                "enabled": connector.settings.enabled,
                "capabilities": sorted(connector.capabilities),
                "queue_depth": pending.get(name, 0),
                "last_error": st.get("last_error"),
                "last_error_at": st.get("last_error_at"),
                "last_success_at": st.get("last_success_at"),
                "last_error_resolved": _resolved(st.get("last_error_at"), st.get("last_success_at")),
            }
        )
    return out


def _resolved(error_at: float | None, success_at: float | None) -> bool:
    """Whether a later success has superseded the last error (the dashboard then shows it as resolved)."""
    return error_at is not None and success_at is not None and success_at >= error_at


async def resume(request: Request) -> Response:
    if (refused := await admin_guard(request)) is not None:
        return refused
    relay: RelayState = request.app.state.relay
    name = request.path_params["name"]
    if name not in relay.connectors:
        return error("not_found", f"no connector named {name!r}")
    await relay.db.run(queries.resume_connector, relay.db.engine, name)
    for resumed in relay.on_resume:
        resumed(name)
    return JSONResponse({"state": "active"})
