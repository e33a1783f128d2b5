"""A fake Pinterest API v5 Conversions endpoint: ``POST /v5/ad_accounts/{ad_account_id}/events``.

Strict like the real one (its OpenAPI schema): ``Authorization: Bearer`` (401 ``{"code": 2, "message":
"Authentication failed."}``), 1 to 1,000 events (400 ``{"code": 1, ...}``), and each event checked on its
own: a bad event is answered ``status: failed`` with its ``error_message`` while the others are
processed (``num_events_received``, ``num_events_processed``, ``events[]`` in request order).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.sandbox.base import BaseBatchFake
from relay.sandbox.checks import (
    fields_problem,
    first,
    text_problem,
    time_problem,
    unknown_keys,
    url_problem,
)

MAX_EVENTS = 1000
MAX_AGE_DAYS = 7
EVENT_NAMES = frozenset(
    {
        "add_to_cart",
        "checkout",
        "custom",
        "lead",
        "page_visit",
        "search",
        "signup",
        "view_category",
        "watch_video",
    }
)
ACTION_SOURCES = frozenset({"web", "app_android", "app_ios", "offline"})
EVENT_KEYS = (
    "event_name", "action_source", "event_time", "event_id", "event_source_url", "opt_out",
    "partner_name", "user_data", "custom_data", "app_id", "app_name", "app_version", "device_brand",
    "device_carrier", "device_model", "device_type", "os_version", "wifi", "language",
)  # fmt: skip
HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id", "hashed_maids")
RAW = ("client_ip_address", "client_user_agent", "click_id", "partner_id")


class FakePinterest(BaseBatchFake):
    """The fake; :attr:`events` holds processed events, each with ``ad_account_id`` (and ``test``)."""

    platform = "pinterest"
    event_paths = ("/v5/ad_accounts/{ad_account_id}/events",)
    max_events = MAX_EVENTS
    batch_problem = f"data: must hold 1 to {MAX_EVENTS} events"

    def __init__(self, *, ad_account_ids: Iterable[str] | None = None, **options: Any) -> None:
        super().__init__(pixel_ids=ad_account_ids, **options)

    def unauthorized(self) -> Response:
        return JSONResponse({"code": 2, "message": "Authentication failed."}, status_code=401)

    def forbidden(self, scope: str) -> Response:
        message = "You are not permitted to access that resource."
        return JSONResponse({"code": 29, "message": message}, status_code=403)

    def invalid(self, problem: str) -> Response:
        return JSONResponse({"code": 1, "message": f"Invalid request: {problem}"}, status_code=400)

    def accept(self, request: Request, body: Any, events: list[Any]) -> Response:
        # each event is answered on its own: a bad one fails while the others are processed
        account, now = request.path_params["ad_account_id"], self.clock()
        test = request.query_params.get("test") == "true"
        answers = []
        for event in events:
            found = event_problem(event, now)
            if found:
                answers.append({"status": "failed", "error_message": found, "warning_message": None})
                continue
            answers.append({"status": "processed", "error_message": None, "warning_message": None})
            if not test:
                self.events.append({**event, "ad_account_id": account})
        processed = sum(a["status"] == "processed" for a in answers)
        return JSONResponse(
            {"num_events_received": len(events), "num_events_processed": processed, "events": answers}
        )


def event_problem(event: Any, now: float) -> str | None:
    """What Pinterest would refuse in one event, or None."""
    if not isinstance(event, dict):
        return "event must be an object"
    checks = [
        unknown_keys("event", event, EVENT_KEYS),
        None
        if event.get("event_name") in EVENT_NAMES
        else f"event_name: {event.get('event_name')!r} is not valid",
        None
        if event.get("action_source") in ACTION_SOURCES
        else "action_source: must be web, app_android, app_ios or offline",
        time_problem("event_time", event.get("event_time"), now, MAX_AGE_DAYS)
        if isinstance(event.get("event_time"), int)
        else "event_time: must be Unix seconds (an integer)",
        text_problem("event_id", event.get("event_id")),
        url_problem("event_source_url", event.get("event_source_url")),
        _user_problem(event.get("user_data")),
        _custom_problem(event.get("custom_data", {})),
    ]
    return first(checks)


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user_data: required"
    problem = fields_problem("user_data", user, HASHED, RAW, as_list=True)
    if problem is None and not (
        "em" in user
        or "hashed_maids" in user
        or ("client_ip_address" in user and "client_user_agent" in user)
    ):
        problem = "user_data: needs em, hashed_maids, or client_ip_address with client_user_agent"
    return problem


def _custom_problem(custom: Any) -> str | None:
    if not isinstance(custom, dict):
        return "custom_data: must be an object"
    if "value" in custom and not isinstance(custom["value"], str):
        return "custom_data.value: must be a string"
    for item in custom.get("contents") or []:
        if "item_price" in item and not isinstance(item["item_price"], str):
            return "custom_data.contents.item_price: must be a string"
    return None


__all__ = ["MAX_EVENTS", "FakePinterest", "event_problem"]
