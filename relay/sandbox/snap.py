"""A fake Snapchat Conversions API v3: ``POST /v3/{pixel_id}/events`` (and ``/events/validate``).

Strict like the real one: the ``access_token`` query parameter (401), at most 2,000 events (400),
Snap's event names, ``action_source``, hashed ``user_data`` and at least one identifier per event;
the whole request refused with 400 ``{"status": "INVALID", "reason": "data[i]: ..."}`` naming the bad
event. Snap's exact error wording is not public [unverified]: the shape is the sandbox's own.
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
    text_problem,
    time_problem,
    unknown_keys,
    url_problem,
)
from relay.settings import Settings

MAX_EVENTS = 2000
MAX_AGE_DAYS = 7
EVENT_NAMES = frozenset(
    {
        "PAGE_VIEW", "VIEW_CONTENT", "SEARCH", "ADD_CART", "SAVE", "START_CHECKOUT", "ADD_BILLING",
        "PURCHASE", "SIGN_UP", "SUBSCRIBE", "START_TRIAL", "LIST_VIEW", "SHARE", "INVITE", "LOGIN",
        "APP_OPEN", "AD_CLICK", "AD_VIEW", "COMPLETE_TUTORIAL", "LEVEL_COMPLETE", "ACHIEVEMENT_UNLOCKED",
        "RATE", "RESERVE", "SPENT_CREDITS", "CUSTOM_EVENT_1", "CUSTOM_EVENT_2", "CUSTOM_EVENT_3",
        "CUSTOM_EVENT_4", "CUSTOM_EVENT_5",
    }
)  # fmt: skip
ACTION_SOURCES = frozenset({"WEB", "MOBILE_APP", "OFFLINE"})
EVENT_KEYS = (
    "event_name", "event_time", "event_id", "action_source", "event_source_url", "user_data",
    "custom_data", "app_data", "data_processing_options", "data_processing_options_country",
    "data_processing_options_state", "integration",
)  # fmt: skip
HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
RAW = (
    "client_ip_address",
    "client_user_agent",
    "madid",
    "idfv",
    "sc_click_id",
    "sc_cookie1",
    "lead_id",
    "subscription_id",
)
MATCH = ("em", "ph", "madid", "sc_click_id", "sc_cookie1")


class FakeSnap(FakePlatform):
    """The fake; :attr:`events` holds accepted events, each with ``pixel_id`` (and ``validated``)."""

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
                Route("/v3/{pixel_id}/events", self._events, methods=["POST"]),
                Route("/v3/{pixel_id}/events/validate", self._events, methods=["POST"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str = "/sandbox/snap") -> FakeSnap:
        blocks = configured(settings, "snap", mount, "access_token")
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
        token = request.query_params.get("access_token", "")
        if not token or (self.access_tokens and token not in self.access_tokens):
            return _invalid(401, "UNAUTHORIZED", "invalid or missing access_token")
        pixel_id = request.path_params["pixel_id"]
        if self.pixel_ids is not None and pixel_id not in self.pixel_ids:
            return _invalid(403, "FORBIDDEN", f"no access to pixel {pixel_id}")
        body, problem = await json_body(request)
        data = body.get("data") if isinstance(body, dict) else None
        if problem or not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            return _invalid(400, "INVALID", problem or f"data must hold 1 to {MAX_EVENTS} events")
        now = self.clock()
        for index, event in enumerate(data):
            found = event_problem(event, now)
            if found:
                return _invalid(400, "INVALID", f"data[{index}]: {found}")
        validated = request.url.path.endswith("/validate")
        if not validated:
            self.events.extend({**e, "pixel_id": pixel_id} for e in data)
        return JSONResponse({"status": "VALID", "reason": "", "events_received": len(data)})


def _invalid(status: int, code: str, reason: str) -> JSONResponse:
    return JSONResponse({"status": code, "reason": reason}, status_code=status)


def event_problem(event: Any, now: float) -> str | None:
    """What Snap would refuse in one event, or None."""
    if not isinstance(event, dict):
        return "must be an object"
    user = event.get("user_data")
    checks = [
        unknown_keys("event", event, EVENT_KEYS),
        None
        if event.get("event_name") in EVENT_NAMES
        else f"event_name: unknown event {event.get('event_name')!r}",
        time_problem("event_time", event.get("event_time"), now, MAX_AGE_DAYS),
        text_problem("event_id", event.get("event_id")),
        None
        if event.get("action_source") in ACTION_SOURCES
        else "action_source: must be WEB, MOBILE_APP or OFFLINE",
        url_problem("event_source_url", event.get("event_source_url")),
        _user_problem(user),
    ]
    return next((c for c in checks if c), None)


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user_data: required"
    problem = unknown_keys("user_data", user, (*HASHED, *RAW))
    for key in HASHED:
        if problem is None and key in user:
            problem = hashed_problem(f"user_data.{key}", user[key])
    if problem is None and not (
        any(k in user for k in MATCH) or ("client_ip_address" in user and "client_user_agent" in user)
    ):
        problem = "user_data: at least one identifier is required"
    return problem


__all__ = ["MAX_EVENTS", "FakeSnap", "event_problem"]
