"""Shared plumbing of the fake platforms: request recording and scripted answers.

A fake validates payloads like the real platform, records every request it receives and
keeps the state a test asserts on (events received, audience membership). Tests script
failures with :meth:`FakePlatform.script`: each queued answer is used for one request.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class ScriptedResponse:
    """An answer a test forces on the fake: a status and body, or a delay (a timeout)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: when true the fake still processes the request normally after the delay
    passthrough: bool = False


class FakePlatform:
    """Base of the fake platforms served under ``/sandbox/`` and in tests."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[ScriptedResponse] = deque()

    def script(self, *responses: ScriptedResponse) -> None:
        self._script.extend(responses)

    def reset(self) -> None:
        self.requests.clear()
        self._script.clear()

    async def record(self, request: Request) -> RecordedRequest:
        body = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            url=str(request.url),
        )
        self.requests.append(recorded)
        return recorded

    async def scripted(self) -> Response | None:
        """The next scripted answer, if a test queued one (after sleeping its delay)."""
        if not self._script:
            return None
        answer = self._script.popleft()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.passthrough:
            return None
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
