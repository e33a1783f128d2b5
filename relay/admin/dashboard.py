"""The dashboard: one HTML page over the admin API, behind a login form or a Bearer token."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from relay.admin.csrf import cross_site_refusal
from relay.admin.ratelimit import LoginLimiter
from relay.admin.session import (
    SESSION_COOKIE,
    clear_cookie,
    close_session,
    is_admin,
    open_session,
    set_cookie,
)
from relay.http.body import BodyError, read_body
from relay.http.responses import error
from relay.state import RelayState

STATIC = Path(__file__).parent / "static"
#: a sign-in form is one short field: anything longer is refused unread
LOGIN_MAX_BYTES = 4096

LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>conversion-relay · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>
body{font:15px system-ui,sans-serif;background:#f4f5f7;display:grid;place-items:center;height:100vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:320px}
input{width:100%;padding:.5rem;margin:.5rem 0 1rem;box-sizing:border-box}button{padding:.5rem 1rem}
.err{color:#b00020}</style></head><body><form method="post" action="/admin/login">
<h1>conversion-relay</h1>{message}<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">Sign in</button></form></body></html>"""

NONE = "'none'"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def content_security_policy(page: str) -> str:
    """A policy allowing exactly the page's own inline scripts and styles (by hash), nothing injected."""
    allowed: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(page):
        sha = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        allowed[kind].append(f"'sha256-{sha}'")
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {' '.join(allowed['script']) or NONE}",
            f"style-src {' '.join(allowed['style']) or NONE}",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@functools.cache
def _page(name: str) -> tuple[str, str]:
    """A static page and its policy, read once."""
    page = LOGIN if name == "login" else (STATIC / name).read_text(encoding="utf-8")
    return page, content_security_policy(page)


def _html(name: str, status: int = 200, message: str = "") -> HTMLResponse:
    page, policy = _page(name)
    headers = {"cache-control": "no-store", "content-security-policy": policy}
    return HTMLResponse(page.replace("{message}", message), status, headers=headers)


async def dashboard(request: Request) -> Response:
    if not await is_admin(request):
        return _html("login", 401)
    return _html("dashboard.html")


def _limiter(relay: RelayState) -> LoginLimiter:
    limiter: LoginLimiter = relay.extras.setdefault(
        "admin_login_limiter", LoginLimiter(relay.settings.server.admin_login_attempts_per_minute)
    )
    return limiter


async def login(request: Request) -> Response:
    """Sign in with the admin token (a urlencoded form of one field): a new random session per sign-in."""
    relay: RelayState = request.app.state.relay
    if (refused := cross_site_refusal(request, require_json=False)) is not None:
        return refused
    peer = request.client.host if request.client else None
    client = relay.proxies.client_ip(peer, request.headers.get("x-forwarded-for")) or "unknown"
    limiter, now = _limiter(relay), time.time()
    if wait := limiter.retry_after(client, now):
        detail = f"too many failed sign-ins from this address; try again in {wait} seconds"
        return error("rate_limited", detail, headers={"retry-after": str(wait)})
    try:
        body = await read_body(
            request, LOGIN_MAX_BYTES, relay.settings.server.body_timeout_seconds, limit="sign-in form limit"
        )
    except BodyError as exc:
        return exc.response
    # parsed here rather than pulling in python-multipart
    token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
    if not relay.credentials.admin_ok(token):
        limiter.failed(client, now)
        return _html("login", 401, '<p class="err">That token is not right.</p>')
    limiter.succeeded(client)
    response = RedirectResponse("/admin/", status_code=303)
    max_age = int(relay.settings.server.admin_session_hours * 3600)
    session = await open_session(relay, token)
    set_cookie(response, session, secure=request.url.scheme == "https", max_age=max_age)
    return response


async def logout(request: Request) -> Response:
    """End the session (server-side too). A POST; a GET from the relay's own pages or typed in works too,
    and one from another site is refused, so a link elsewhere cannot sign the admin out."""
    relay: RelayState = request.app.state.relay
    if (refused := cross_site_refusal(request, require_json=False)) is not None:
        return refused
    await close_session(relay, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/admin/", status_code=303)
    clear_cookie(response, secure=request.url.scheme == "https")
    return response
