"""Shared plumbing of the fake platforms: request recording, scripted answers, credentials, batches.

A fake validates payloads like the real platform, records every request it receives and
keeps the state a test asserts on (events received, audience membership). Tests script
failures with :meth:`FakePlatform.script`: each queued answer is used for one request.

The layers, each a base the fakes configure::

    FakePlatform            recording and scripted answers (every fake)
    └── BaseConversionFake  accepted tokens, a clock, accepted events, GET /_state, for_settings
        └── BaseBatchFake   POST a JSON batch: token, account in the path, batch size, each event
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from relay.sandbox.checks import configured, json_body
from relay.settings import Settings


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

    async def receive(
        self, request: Request, check: Callable[[RecordedRequest], Response | None] | None = None
    ) -> tuple[RecordedRequest, Response | None]:
        """Record ``request``; with the answer it gets before the fake reads it, if any: the scripted
        one, else the problem ``check`` finds (credentials)."""
        recorded = await self.record(request)
        answer = await self.scripted()
        if answer is None and check is not None:
            answer = check(recorded)
        return recorded, answer

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


def bearer(headers: Mapping[str, str]) -> str:
    """The token of an ``Authorization: Bearer`` header, "" when there is none."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme == "Bearer" else ""


def recorded_json(recorded: RecordedRequest) -> Any:
    """The JSON body of a request sent as ``application/json``, None otherwise (or when invalid)."""
    if recorded.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        return json.loads(recorded.body)
    except ValueError:
        return None


class BaseConversionFake(FakePlatform):
    """A fake conversions API: the tokens it accepts, a clock, the :attr:`events` it accepted and
    ``GET /_state`` showing them. A subclass names its connector type and serves :meth:`routes`."""

    #: the connector ``type`` whose blocks :meth:`for_settings` reads (mounted at ``/sandbox/<type>``)
    platform: ClassVar[str]
    #: the keys of those blocks holding credentials this fake accepts
    token_keys: ClassVar[tuple[str, ...]] = ("access_token",)

    def __init__(self, *, access_tokens: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        """Empty ``access_tokens`` accepts any non-empty token."""
        super().__init__()
        self.access_tokens = set(access_tokens)
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/_state", self._state, methods=["GET"]), *self.routes()])

    def routes(self) -> Sequence[BaseRoute]:
        return ()

    @classmethod
    def configured_tokens(cls, settings: Settings, mount: str | None = None) -> set[str]:
        """The credentials of the configured connectors of :attr:`platform` pointed at ``mount``."""
        blocks = configured(settings, cls.platform, mount or f"/sandbox/{cls.platform}", *cls.token_keys)
        return {token for block in blocks for token in block.values() if token}

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str | None = None) -> Self:
        """The sandbox fake: it accepts the tokens of the connectors pointed at it (any, when none is)."""
        return cls(access_tokens=cls.configured_tokens(settings, mount))

    def token_accepted(self, token: str) -> bool:
        return bool(token) and (not self.access_tokens or token in self.access_tokens)

    def reset(self) -> None:
        super().reset()
        self.events.clear()

    def state(self) -> dict[str, Any]:
        """What ``GET /_state`` shows."""
        return {"events": len(self.events), "recent_events": self.events[-20:][::-1]}

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())


class BaseBatchFake(BaseConversionFake, ABC):
    """A fake endpoint taking a JSON batch of events for the account (or pixel) named in its path.

    Each request is recorded, answered as scripted, then checked in order: the token
    (:meth:`unauthorized`), the account against ``scopes`` (:meth:`forbidden`; None accepts any),
    the JSON body and the batch size (:meth:`invalid`); :meth:`accept` checks and keeps the events.
    """

    #: the POST routes of the endpoint, each with one path parameter: the account (or pixel)
    event_paths: ClassVar[tuple[str, ...]]
    max_events: ClassVar[int] = 1000
    #: the problem of a batch that is not a list of 1 to :attr:`max_events` events
    batch_problem: ClassVar[str]

    def __init__(
        self,
        *,
        access_tokens: Iterable[str] = (),
        pixel_ids: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``pixel_ids``: the accounts (or pixels) of the path accepted, ``None`` any."""
        super().__init__(access_tokens=access_tokens, clock=clock)
        self.scopes = set(pixel_ids) if pixel_ids is not None else None

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(path, self._events, methods=["POST"]) for path in self.event_paths]

    def token(self, request: Request) -> str:
        return bearer(request.headers)

    def batch(self, body: Any) -> Any:
        """The events of a request body (anything, checked by the caller)."""
        return body.get("data") if isinstance(body, dict) else None

    @abstractmethod
    def unauthorized(self) -> Response:
        """The platform's answer to a missing or unknown token."""

    @abstractmethod
    def forbidden(self, scope: str) -> Response:
        """The platform's answer to an account (or pixel) the token may not use."""

    @abstractmethod
    def invalid(self, problem: str) -> Response:
        """The platform's answer to a request it refuses as a whole."""

    @abstractmethod
    def accept(self, request: Request, body: Any, events: list[Any]) -> Response:
        """Check the events, keep the accepted ones and answer like the platform."""

    async def _events(self, request: Request) -> Response:
        _, answer = await self.receive(request)
        if answer is not None:
            return answer
        if not self.token_accepted(self.token(request)):
            return self.unauthorized()
        [scope] = request.path_params.values()
        if self.scopes is not None and scope not in self.scopes:
            return self.forbidden(scope)
        body, problem = await json_body(request)
        events = self.batch(body)
        if problem or not isinstance(events, list) or not 1 <= len(events) <= self.max_events:
            return self.invalid(problem or self.batch_problem)
        return self.accept(request, body, events)


def first_problem(
    events: Sequence[Any], problem: Callable[[Any, float], str | None], now: float
) -> tuple[int, str] | None:
    """The index and problem of the first invalid event, for fakes that refuse a whole batch for it."""
    for index, event in enumerate(events):
        found = problem(event, now)
        if found:
            return index, found
    return None
