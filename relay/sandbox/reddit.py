"""A fake Reddit Conversions API v3: ``POST /api/v3/pixels/{pixel_id}/conversion_events``.

Strict like the real one: ``Authorization: Bearer`` (401), 1 to 1,000 events, ``event_at`` in
milliseconds no more than 7 days old nor 5 minutes ahead (seconds would read as 1970 and are
refused), UPPER_SNAKE tracking types (``CUSTOM`` needs ``custom_event_name``), hashed ``user`` fields
(``ip_address`` included). One invalid event refuses the whole request: 400 ``{"error": {"code",
"message"}}`` naming its index [the error wording is the sandbox's own, unverified].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.sandbox.base import FakePlatform
from relay.sandbox.checks import (
    configured,
    hashed_problem,
    json_body,
    time_problem,
    unknown_keys,
    url_problem,
)
from relay.settings import Settings

MAX_EVENTS = 1000
MAX_AGE_DAYS = 7
TRACKING_TYPES = frozenset(
    {
        "PAGE_VIEW",
        "VIEW_CONTENT",
        "SEARCH",
        "ADD_TO_CART",
        "ADD_TO_WISHLIST",
        "PURCHASE",
        "LEAD",
        "SIGN_UP",
        "CUSTOM",
    }
)
ACTION_SOURCES = frozenset({"WEBSITE", "APP", "PHYSICAL_STORE", "OTHER"})
EVENT_KEYS = ("event_at", "action_source", "type", "click_id", "event_source_url", "metadata", "user")
HASHED = ("email", "phone_number", "external_id", "ip_address", "idfa", "aaid")
RAW = ("user_agent", "uuid", "screen_dimensions", "data_processing_options")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)


class FakeReddit(FakePlatform):
    """The fake; :attr:`events` holds accepted events, each with ``pixel_id`` (and ``test_id``)."""

    def __init__(
        self,
        *,
        access_tokens: Iterable[str] = (),
        pixel_ids: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.access_tokens = set(access_tokens)
        self.pixel_ids = set(pixel_ids) if pixel_ids is not None else None
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/_state", self._state, methods=["GET"]),
                Route("/api/v3/pixels/{pixel_id}/conversion_events", self._events, methods=["POST"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str = "/sandbox/reddit") -> FakeReddit:
        blocks = configured(settings, "reddit", mount, "access_token")
        return cls(access_tokens={b["access_token"] for b in blocks if b["access_token"]})

    def reset(self) -> None:
        super().reset()
        self.events.clear()

    async def _state(self, request: Request) -> Response:
        return JSONResponse({"events": len(self.events), "recent_events": self.events[-20:][::-1]})

    async def _events(self, request: Request) -> Response:
        await self.record(request)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        if not token or (self.access_tokens and token not in self.access_tokens):
            return _error(401, "Unauthorized: invalid or missing bearer token")
        pixel_id = request.path_params["pixel_id"]
        if self.pixel_ids is not None and pixel_id not in self.pixel_ids:
            return _error(403, f"Forbidden: no access to pixel {pixel_id}")
        body, problem = await json_body(request)
        data = body.get("data") if isinstance(body, dict) else None
        events = data.get("events") if isinstance(data, dict) else None
        if problem or not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            return _error(400, problem or f"data.events: must hold 1 to {MAX_EVENTS} events")
        now = self.clock()
        for index, event in enumerate(events):
            found = event_problem(event, now)
            if found:
                return _error(400, f"data.events[{index}]: {found}")
        extra = {"test_id": data["test_id"]} if isinstance(data, dict) and data.get("test_id") else {}
        self.events.extend({**e, "pixel_id": pixel_id, **extra} for e in events)
        return JSONResponse({"message": f"Successfully processed {len(events)} conversion events."})


def event_problem(event: Any, now: float) -> str | None:
    """What Reddit would refuse in one event, or None."""
    if not isinstance(event, dict):
        return "must be an object"
    at = event.get("event_at")
    checks = [
        unknown_keys("event", event, EVENT_KEYS),
        time_problem("event_at", at / 1000, now, MAX_AGE_DAYS)
        if isinstance(at, int) and not isinstance(at, bool)
        else "event_at: must be epoch milliseconds (an integer)",
        None
        if event.get("action_source") in ACTION_SOURCES
        else "action_source: must be WEBSITE, APP, PHYSICAL_STORE or OTHER",
        url_problem("event_source_url", event.get("event_source_url")),
        _type_problem(event.get("type")),
        _user_problem(event.get("user", {})),
    ]
    return next((c for c in checks if c), None)


def _type_problem(kind: Any) -> str | None:
    if not isinstance(kind, dict) or kind.get("tracking_type") not in TRACKING_TYPES:
        return "type.tracking_type: must be one of " + ", ".join(sorted(TRACKING_TYPES))
    if kind["tracking_type"] == "CUSTOM" and not kind.get("custom_event_name"):
        return "type.custom_event_name: required for CUSTOM"
    return None


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user: must be an object"
    problem = unknown_keys("user", user, (*HASHED, *RAW))
    for key in HASHED:
        if problem is None and key in user:
            problem = hashed_problem(f"user.{key}", user[key], as_list=False)
    return problem


__all__ = ["MAX_EVENTS", "FakeReddit", "event_problem"]
