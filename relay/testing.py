"""Helpers for tests of the relay and of third-party connectors: real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

from relay.server import HttpKind, uvicorn_config
from relay.settings import ServerSettings, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: how often a test server looks whether it may stop, or its connections have closed (uvicorn: 100 ms)
_POLL_SECONDS = 0.005


class _QuickServer(uvicorn.Server):
    """uvicorn's server noticing a stop, and its connections closing, within :data:`_POLL_SECONDS`
    (uvicorn looks every 100 ms and pauses 100 ms at every shutdown): the tests start and stop hundreds of
    servers. The steps of a shutdown are uvicorn's, in its order."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            for _ in range(int(0.1 / _POLL_SECONDS)):
                await asyncio.sleep(_POLL_SECONDS)
                if self.should_exit:
                    break
            counter = (counter + 1) % 864000
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        grace = self.config.timeout_graceful_shutdown
        deadline = None if grace is None else asyncio.get_running_loop().time() + grace
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                for task in state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
                break
            await asyncio.sleep(_POLL_SECONDS)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp,
    *,
    port: int | None = None,
    lifespan: Literal["auto", "on", "off"] = "auto",
    http: HttpKind = "auto",
) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 inside the running event loop; yields its base URL.

    The server is configured as ``relay serve`` configures it, with the limits of the relay's settings
    (``app.state.settings`` of an app from ``relay.app.create_app``; the defaults for any other app)."""
    port = port or free_port()
    settings = getattr(getattr(app, "state", None), "settings", None)
    server_settings = settings.server if isinstance(settings, Settings) else ServerSettings()
    config = uvicorn_config(app, server_settings, host="127.0.0.1", port=port, http=http, lifespan=lifespan)
    server = _QuickServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
