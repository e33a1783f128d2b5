"""Operations endpoints: liveness, readiness, metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.exceptions import StorageError
from relay.state import RelayState


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    try:
        await relay.db.run(relay.db.ping)
    except StorageError:
        return JSONResponse({"status": "unavailable", "storage": "down"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    body = await relay.db.run(relay.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
