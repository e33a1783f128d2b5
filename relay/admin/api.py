"""The admin API (CONTRACT §3, Operations), behind ``server.admin_token``."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from relay.audiences import SyncEnv, audience_status
from relay.auth import bearer
from relay.duration import parse_instant
from relay.ingest.body import BodyError, read_json
from relay.responses import error
from relay.state import RelayState
from relay.storage import queries
from relay.storage.queries import DeliveryFilter

SESSION_COOKIE = "relay_admin"
STATUSES = ("pending", "in_flight", "delivered", "dead", "skipped")


def session_value(token_digest: str) -> str:
    return hmac.new(token_digest.encode(), b"relay-admin-session", hashlib.sha256).hexdigest()


def is_admin(conn: HTTPConnection) -> bool:
    relay: RelayState = conn.app.state.relay
    if relay.credentials.admin_ok(bearer(conn)):
        return True
    cookie = conn.cookies.get(SESSION_COOKIE)
    if not cookie:
        return False
    return any(hmac.compare_digest(cookie, session_value(d)) for d in relay.credentials.admin_token_digests)


def _unauthorized() -> Response:
    return error("unauthorized", "send Authorization: Bearer <server.admin_token>")


async def not_found(request: Request) -> Response:
    """Any other ``/admin/*`` path: 401 without the token (every admin route is protected), else 404."""
    if not is_admin(request):
        return _unauthorized()
    return error("not_found", f"no such admin endpoint: {request.url.path}")


async def deliveries(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
    relay: RelayState = request.app.state.relay
    q = request.query_params
    status = q.get("status") or None
    if status and status not in STATUSES:
        return error("invalid_event", f"status must be one of {', '.join(STATUSES)}")
    try:
        limit = min(max(int(q.get("limit") or 100), 1), 1000)
    except ValueError:
        return error("invalid_event", "limit must be a whole number")
    f = DeliveryFilter(status, q.get("connector") or None, q.get("event_id") or None, limit=limit)
    items = await relay.db.run(queries.list_deliveries, relay.db.engine, f)
    return JSONResponse({"items": items})


async def replay(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
    relay: RelayState = request.app.state.relay
    try:
        body = await read_json(request, relay.settings.server.max_body_bytes)
    except BodyError as exc:
        return exc.response
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return error("invalid_event", "send a JSON object of filters")
    try:
        f = DeliveryFilter(
            status=body.get("status") or "dead",
            connector=body.get("connector") or None,
            event_id=body.get("event_id") or None,
            since=parse_instant(body.get("since")),
            until=parse_instant(body.get("until")),
        )
    except ValueError:
        return error("invalid_event", "since and until must be ISO-8601 times or Unix seconds")
    if f.status not in STATUSES:
        return error("invalid_event", f"status must be one of {', '.join(STATUSES)}")
    n = await relay.db.run(queries.replay, relay.db.engine, f, time.time())
    return JSONResponse({"requeued": n})


async def stats(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
    relay: RelayState = request.app.state.relay
    data = await relay.db.run(queries.stats, relay.db.engine, time.time())
    # read from storage: right with several workers, and under --no-worker
    data["audiences"] = await audience_status(SyncEnv.from_relay(relay))
    return JSONResponse(data)


async def event_trace(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
    relay: RelayState = request.app.state.relay
    event_id = request.path_params["event_id"]
    trace = await relay.db.run(queries.event_trace, relay.db.engine, event_id)
    if not trace:
        return error("not_found", f"no event with event_id {event_id!r}")
    return JSONResponse({"event_id": event_id, "events": trace})


async def connectors(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
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
            }
        )
    return out


async def resume(request: Request) -> Response:
    if not is_admin(request):
        return _unauthorized()
    relay: RelayState = request.app.state.relay
    name = request.path_params["name"]
    if name not in relay.connectors:
        return error("not_found", f"no connector named {name!r}")
    await relay.db.run(queries.resume_connector, relay.db.engine, name)
    return JSONResponse({"state": "active"})
