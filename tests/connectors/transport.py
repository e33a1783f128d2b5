"""Fake platforms reached in process: payload tests need no sockets, only the fakes' ASGI apps."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp

from relay.testing import serve

#: the base URL of a fake reached through ``httpx.ASGITransport``
IN_PROCESS = "http://fake.test"


@contextlib.asynccontextmanager
async def fake_http(
    app: ASGIApp, *, real: bool = False, timeout: float = 10.0, **client: Any
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """``(base URL, client)`` for ``app``: in process through ``httpx.ASGITransport``, or served by uvicorn
    on loopback when ``real`` (a test of timeouts or of the wire itself)."""
    if real:
        async with serve(app) as base, httpx.AsyncClient(timeout=timeout, **client) as http:
            yield base, http
        return
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, timeout=timeout, **client) as http:
        yield IN_PROCESS, http
