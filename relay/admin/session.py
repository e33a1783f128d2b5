"""Dashboard sessions: a random cookie value per sign-in, kept server-side as a digest with an expiry.

Sessions live in storage (``admin_sessions``), so every worker process of the relay honours the same
ones, a sign-out ends the session everywhere, and a changed admin token ends the sessions opened with
the old one.
"""

from __future__ import annotations

import secrets
import time

from starlette.requests import HTTPConnection
from starlette.responses import Response

from relay.http.auth import bearer, digest
from relay.state import RelayState
from relay.storage import queries

SESSION_COOKIE = "relay_admin"
COOKIE_PATH = "/admin"


async def open_session(relay: RelayState, token: str) -> str:
    """A new session for a correct admin ``token``: the cookie value, stored only as its digest."""
    server = relay.settings.server
    value = secrets.token_urlsafe(32)
    now = time.time()
    expires = now + server.admin_session_hours * 3600
    await relay.db.run(queries.open_session, relay.db.engine, digest(value), digest(token), now, expires)
    return value


async def session_ok(relay: RelayState, value: str | None) -> bool:
    """Whether ``value`` is the cookie of a live session opened with a still-configured admin token."""
    if not value or len(value) > 100:
        return False
    idle = relay.settings.server.admin_session_idle_minutes * 60
    token = await relay.db.run(queries.session_token, relay.db.engine, digest(value), time.time(), idle)
    return token is not None and token in relay.credentials.admin_token_digests


async def close_session(relay: RelayState, value: str | None) -> None:
    if value and len(value) <= 100:
        await relay.db.run(queries.close_session, relay.db.engine, digest(value))


def uses_cookie(conn: HTTPConnection) -> bool:
    """True when the request is authorised by its session cookie rather than a Bearer token."""
    relay: RelayState = conn.app.state.relay
    return not relay.credentials.admin_ok(bearer(conn))


async def is_admin(conn: HTTPConnection) -> bool:
    """A valid ``Authorization: Bearer <admin token>``, or the cookie of a live session."""
    relay: RelayState = conn.app.state.relay
    if relay.credentials.admin_ok(bearer(conn)):
        return True
    return await session_ok(relay, conn.cookies.get(SESSION_COOKIE))


def set_cookie(response: Response, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
