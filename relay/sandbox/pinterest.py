"""A fake Pinterest API v5 Conversions endpoint: ``POST /v5/ad_accounts/{ad_account_id}/events``.

Strict like the real one (its OpenAPI schema): ``Authorization: Bearer`` (401 ``{"code": 2, "message":
"Authentication failed."}``), 1 to 1,000 events (400 ``{"code": 1, ...}``), and each event checked on its
own: a bad event is answered ``status: failed`` with its ``error_message`` while the others are
processed (``num_events_received``, ``num_events_processed``, ``events[]`` in request order).
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


class FakePinterest(FakePlatform):
    """The fake; :attr:`events` holds processed events, each with ``ad_account_id`` (and ``test``)."""

    def __init__(
        self,
        *,
        access_tokens: Iterable[str] = (),
        ad_account_ids: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.access_tokens = set(access_tokens)
        self.ad_account_ids = set(ad_account_ids) if ad_account_ids is not None else None
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/_state", self._state, methods=["GET"]),
                Route("/v5/ad_accounts/{ad_account_id}/events", self._events, methods=["POST"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str = "/sandbox/pinterest") -> FakePinterest:
        blocks = configured(settings, "pinterest", mount, "access_token")
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
            return JSONResponse({"code": 2, "message": "Authentication failed."}, status_code=401)
        account = request.path_params["ad_account_id"]
        if self.ad_account_ids is not None and account not in self.ad_account_ids:
            return JSONResponse(
                {"code": 29, "message": "You are not permitted to access that resource."}, status_code=403
            )
        body, problem = await json_body(request)
        data = body.get("data") if isinstance(body, dict) else None
        if problem or not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            message = problem or f"data: must hold 1 to {MAX_EVENTS} events"
            return JSONResponse({"code": 1, "message": f"Invalid request: {message}"}, status_code=400)
        now, test = self.clock(), request.query_params.get("test") == "true"
        answers = []
        for event in data:
            found = event_problem(event, now)
            if found:
                answers.append({"status": "failed", "error_message": found, "warning_message": None})
                continue
            answers.append({"status": "processed", "error_message": None, "warning_message": None})
            if not test:
                self.events.append({**event, "ad_account_id": account})
        processed = sum(a["status"] == "processed" for a in answers)
        return JSONResponse(
            {"num_events_received": len(data), "num_events_processed": processed, "events": answers}
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
    return next((c for c in checks if c), None)


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user_data: required"
    problem = unknown_keys("user_data", user, (*HASHED, *RAW))
    for key in HASHED:
        if problem is None and key in user:
            problem = hashed_problem(f"user_data.{key}", user[key], as_list=True)
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
