"""A fake Snapchat Conversions API v3: ``POST /v3/{pixel_id}/events`` (and ``/events/validate``).

Strict like the real one: the ``access_token`` query parameter (401), at most 2,000 events (400),
Snap's event names, ``action_source``, hashed ``user_data`` and at least one identifier per event;
the whole request refused with 400 ``{"status": "INVALID", "reason": "data[i]: ..."}`` naming the bad
event. Snap's exact error wording is not public [unverified]: the shape is the sandbox's own.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.sandbox.base import BaseBatchFake, first_problem
from relay.sandbox.checks import (
    fields_problem,
    first,
    text_problem,
    time_problem,
    unknown_keys,
    url_problem,
)

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


class FakeSnap(BaseBatchFake):
    """The fake; :attr:`events` holds accepted events, each with ``pixel_id`` (and ``validated``)."""

    platform = "snap"
    event_paths = ("/v3/{pixel_id}/events", "/v3/{pixel_id}/events/validate")
    max_events = MAX_EVENTS
    batch_problem = f"data must hold 1 to {MAX_EVENTS} events"

    def token(self, request: Request) -> str:
        return request.query_params.get("access_token", "")

    def unauthorized(self) -> Response:
        return _invalid(401, "UNAUTHORIZED", "invalid or missing access_token")

    def forbidden(self, scope: str) -> Response:
        return _invalid(403, "FORBIDDEN", f"no access to pixel {scope}")

    def invalid(self, problem: str) -> Response:
        return _invalid(400, "INVALID", problem)

    def accept(self, request: Request, body: Any, events: list[Any]) -> Response:
        found = first_problem(events, event_problem, self.clock())
        if found:
            return _invalid(400, "INVALID", f"data[{found[0]}]: {found[1]}")
        if not request.url.path.endswith("/validate"):
            pixel_id = request.path_params["pixel_id"]
            self.events.extend({**e, "pixel_id": pixel_id} for e in events)
        return JSONResponse({"status": "VALID", "reason": "", "events_received": len(events)})


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
    return first(checks)


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user_data: required"
    problem = fields_problem("user_data", user, HASHED, RAW)
    if problem is None and not (
        any(k in user for k in MATCH) or ("client_ip_address" in user and "client_user_agent" in user)
    ):
        problem = "user_data: at least one identifier is required"
    return problem


__all__ = ["MAX_EVENTS", "FakeSnap", "event_problem"]
