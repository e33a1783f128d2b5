"""Operations endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.exceptions import StorageError
from relay.state import RelayState
from relay.storage import queries

HEARTBEAT_NAME = "readyz"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when storage commits a write (a heartbeat row, durably, as an event would be) within
    ``server.ready_timeout_seconds``. A check still running from an earlier probe is not queued behind:
    storage that slow is not ready."""
    relay: RelayState = request.app.state.relay
    running: asyncio.Future[None] | None = relay.extras.get("readyz_probe")
    if running is not None and not running.done():
        return _unavailable("a storage write is still pending from an earlier check")
    write = relay.db.run(queries.heartbeat, relay.db.engine, HEARTBEAT_NAME, time.time())
    probe = asyncio.ensure_future(write)
    # a probe that outlives its request is still awaited by nobody: fetch its outcome so none is reported lost
    probe.add_done_callback(lambda done: done.cancelled() or done.exception())
    relay.extras["readyz_probe"] = probe
    try:
        await asyncio.wait_for(asyncio.shield(probe), relay.settings.server.ready_timeout_seconds)
    except TimeoutError:
        return _unavailable("a storage write took too long")
    except StorageError:
        return _unavailable("storage refused a write")
    return JSONResponse({"status": "ready"})


def _unavailable(detail: str) -> Response:
    return JSONResponse({"status": "unavailable", "storage": "down", "detail": detail}, status_code=503)


async def metrics(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    body = await relay.db.run(relay.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
