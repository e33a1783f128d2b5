"""The baseline: a bare Starlette app on the same server stack, answering 204 to the same requests."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def collect(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


async def gif(request: Request) -> Response:
    return Response(status_code=204)


app = Starlette(routes=[Route("/v1/collect", collect, methods=["POST"]), Route("/p.gif", gif)])
