"""The hot path: ``POST /v1/collect`` and ``GET /p.gif`` reach their raw ASGI handlers before the
middleware stack and the router.

:class:`HotPath` holds the :class:`~relay.ingest.intake.Intake` the server builds at start-up;
:class:`FastPathMiddleware`, the outermost middleware, sends those two requests straight to it. The
same handlers are also the router's endpoints (:meth:`HotPath.endpoint`), so routing, 405s and
``HEAD`` behave as for any route. The handlers add the security headers themselves; the trusted-proxy
scheme and host change nothing in their answers (no redirect, cookies always ``Secure``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from relay.http import browser
from relay.http.responses import error
from relay.ingest.intake import Intake

Handler = Callable[[Intake, Scope, Receive, Send], Awaitable[None]]


class HotPath:
    """The ingest handlers' intake, bound once the server has started."""

    def __init__(self) -> None:
        self.intake: Intake | None = None

    def endpoint(self, handler: Handler) -> ASGIApp:
        """``handler`` as a router endpoint (an ASGI app, not a ``Request`` function)."""
        return _Endpoint(self, handler)


class _Endpoint:
    def __init__(self, hot: HotPath, handler: Handler) -> None:
        self.hot = hot
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot.intake is None:  # only before start-up completes (uvicorn serves after it)
            await error("storage_unavailable", "the relay is starting; retry")(scope, receive, send)
            return
        await self.handler(self.hot.intake, scope, receive, send)


class FastPathMiddleware:
    """Dispatch the two hot endpoints before anything else; every other request goes on down the stack."""

    def __init__(self, app: ASGIApp, hot: HotPath) -> None:
        self.app = app
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        intake = self.hot.intake
        if intake is not None and scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/v1/collect" and method == "POST":
                await browser.collect(intake, scope, receive, send)
                return
            if path == "/p.gif" and method in ("GET", "HEAD"):
                await browser.pixel_gif(intake, scope, receive, send)
                return
        await self.app(scope, receive, send)
