"""Pure ASGI middleware: scheme and host from a trusted TLS-terminating proxy; security headers."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.proxies import ProxyList


class TrustedProxyMiddleware:
    """Take the scheme from ``X-Forwarded-Proto`` and the host from ``X-Forwarded-Host`` when, and only
    when, the direct peer is in ``server.trusted_proxies`` (CONTRACT §6). The client IP is resolved
    separately (``ProxyList.client_ip``), walking ``X-Forwarded-For`` through trusted hops."""

    def __init__(self, app: ASGIApp, proxies: ProxyList) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies.networks:
            client = scope.get("client")
            if client and self.proxies.trusts(client[0]):
                scope = dict(scope)
                headers = dict(scope["headers"])
                proto = headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().lower()
                if proto in (b"http", b"https"):
                    scope["scheme"] = proto.decode()
                host = headers.get(b"x-forwarded-host", b"").split(b",")[0].strip()
                if host:
                    kept = [(k, v) for k, v in scope["headers"] if k != b"host"]
                    scope["headers"] = [*kept, (b"host", host)]
        await self.app(scope, receive, send)


#: every answer: browsers must not guess a type (a JSON error rendered as HTML, a GIF run as script)
COMMON_HEADERS = {"x-content-type-options": "nosniff"}
#: every ``/admin`` answer; a page that needs more (the dashboard's own inline script, by hash) sets its
#: own Content-Security-Policy, which is kept
ADMIN_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` on every answer; on ``/admin`` answers also a strict
    Content-Security-Policy, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and no caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        admin = path == "/admin" or path.startswith("/admin/")
        wanted = {**COMMON_HEADERS, **ADMIN_HEADERS} if admin else COMMON_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
