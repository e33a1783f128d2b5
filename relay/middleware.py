"""Pure ASGI middleware: scheme and host from a trusted TLS-terminating proxy."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from relay.ingest.identity import ProxyList


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
