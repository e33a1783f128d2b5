"""The dashboard: one HTML page over the admin API, behind a login form or a Bearer token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from relay.admin.api import SESSION_COOKIE, is_admin, session_value
from relay.auth import digest
from relay.state import RelayState

STATIC = Path(__file__).parent / "static"

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


async def dashboard(request: Request) -> Response:
    if not is_admin(request):
        return HTMLResponse(LOGIN.replace("{message}", ""), status_code=401)
    page = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"cache-control": "no-store"})


async def login(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    # a urlencoded form of one field: parsed here rather than pulling in python-multipart
    body = (await request.body())[:4096].decode("utf-8", "replace")
    token = (parse_qs(body).get("token") or [""])[0]
    if not relay.credentials.admin_ok(token):
        message = '<p class="err">That token is not right.</p>'
        return HTMLResponse(LOGIN.replace("{message}", message), 401)
    response = RedirectResponse("/admin/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(digest(token)),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/admin",
        max_age=12 * 3600,
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/admin/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response
