"""A fake Reddit Conversions API v3: ``POST /api/v3/pixels/{pixel_id}/conversion_events``.

Strict like the real one: ``Authorization: Bearer`` (401), 1 to 1,000 events, ``event_at`` in
milliseconds no more than 7 days old nor 5 minutes ahead (seconds would read as 1970 and are
refused), UPPER_SNAKE tracking types (``CUSTOM`` needs ``custom_event_name``), hashed ``user`` fields
(``ip_address`` included). One invalid event refuses the whole request: 400 ``{"error": {"code",
"message"}}`` naming its index [the error wording is the sandbox's own, unverified].
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.sandbox.base import BaseBatchFake, first_problem
from relay.sandbox.checks import (
    fields_problem,
    first,
    time_problem,
    unknown_keys,
    url_problem,
)

MAX_EVENTS = 1000
MAX_AGE_DAYS = 7
TRACKING_TYPES = frozenset(
    {
        "PAGE_VISIT",
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


class FakeReddit(BaseBatchFake):
    """The fake; :attr:`events` holds accepted events, each with ``pixel_id`` (and ``test_id``)."""

    platform = "reddit"
    event_paths = ("/api/v3/pixels/{pixel_id}/conversion_events",)
    max_events = MAX_EVENTS
    batch_problem = f"data.events: must hold 1 to {MAX_EVENTS} events"

    def batch(self, body: Any) -> Any:
        data = super().batch(body)
        return data.get("events") if isinstance(data, dict) else None

    def unauthorized(self) -> Response:
        return _error(401, "Unauthorized: invalid or missing bearer token")

    def forbidden(self, scope: str) -> Response:
        return _error(403, f"Forbidden: no access to pixel {scope}")

    def invalid(self, problem: str) -> Response:
        return _error(400, problem)

    def accept(self, request: Request, body: Any, events: list[Any]) -> Response:
        found = first_problem(events, event_problem, self.clock())
        if found:
            return _error(400, f"data.events[{found[0]}]: {found[1]}")
        data = body["data"]
        extra = {"test_id": data["test_id"]} if data.get("test_id") else {}
        pixel_id = request.path_params["pixel_id"]
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
    return first(checks)


def _type_problem(kind: Any) -> str | None:
    if not isinstance(kind, dict) or kind.get("tracking_type") not in TRACKING_TYPES:
        return "type.tracking_type: must be one of " + ", ".join(sorted(TRACKING_TYPES))
    if kind["tracking_type"] == "CUSTOM" and not kind.get("custom_event_name"):
        return "type.custom_event_name: required for CUSTOM"
    return None


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user: must be an object"
    return fields_problem("user", user, HASHED, RAW, as_list=False)


__all__ = ["MAX_EVENTS", "FakeReddit", "event_problem"]
