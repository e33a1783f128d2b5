"""A fake TikTok Business API: Events API 2.0 ``event/track`` and custom audience ``segment/mapping``.

Strict like the real one: the ``Access-Token`` header (40104 empty, 40105 invalid), the pixel code
(40001 no permission), at most 1,000 events (40061), hashed contact details (40062 PII not hashed),
the whole request refused with 40002 naming the event's index when one event is invalid. TikTok
answers HTTP 200 with ``{"code", "message", "request_id", "data"}`` for all of these.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from relay.sandbox.base import BaseConversionFake
from relay.sandbox.checks import (
    fields_problem,
    first,
    hashed_problem,
    json_body,
    time_problem,
    unknown_keys,
    url_problem,
)

MAX_EVENTS = 1000
MAX_AGE_DAYS = 7
EVENT_KEYS = ("event", "event_time", "event_id", "user", "properties", "page", "limited_data_use", "lead")
HASHED_USER = ("email", "phone", "external_id")
RAW_USER = ("ttclid", "ttp", "ip", "user_agent", "locale")
ID_SCHEMA = ("EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256")
Member = frozenset[tuple[str, str]]


class TikTokFault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def answer(code: int = 0, message: str = "OK", data: Any = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": uuid.uuid4().hex, "data": data or {}}
    )


class FakeTikTok(BaseConversionFake):
    """The fake; :attr:`events` holds accepted events (with ``pixel_code``), :attr:`audiences` members."""

    platform = "tiktok"
    token_keys = ("access_token", "audience_access_token")

    def __init__(
        self,
        *,
        access_tokens: Iterable[str] = (),
        pixel_codes: Iterable[str] | None = None,
        advertiser_ids: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Empty ``access_tokens`` accepts any non-empty token; ``None`` ids accept any."""
        super().__init__(access_tokens=access_tokens, clock=clock)
        self.pixel_codes = set(pixel_codes) if pixel_codes is not None else None
        self.advertiser_ids = set(advertiser_ids) if advertiser_ids is not None else None
        self.audiences: dict[str, set[Member]] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/open_api/v1.3/event/track/", self._track, methods=["POST"]),
            Route("/open_api/v1.3/segment/mapping/", self._mapping, methods=["POST"]),
        ]

    def reset(self) -> None:
        super().reset()
        self.audiences.clear()

    def state(self) -> dict[str, Any]:
        return {**super().state(), "audiences": {aid: len(m) for aid, m in self.audiences.items()}}

    async def _handle(self, request: Request, handler: Callable[[Any], dict[str, Any]]) -> Response:
        _, scripted = await self.receive(request)
        if scripted is not None:
            return scripted
        try:
            token = request.headers.get("access-token", "")
            if not token:
                raise TikTokFault(40104, "Access token is empty")
            if not self.token_accepted(token):
                raise TikTokFault(40105, "Access token is incorrect or has been revoked")
            body, problem = await json_body(request)
            if problem or not isinstance(body, dict):
                raise TikTokFault(40002, problem or "the body must be a JSON object")
            return answer(data=handler(body))
        except TikTokFault as fault:
            return answer(fault.code, fault.message)

    # -- events

    async def _track(self, request: Request) -> Response:
        return await self._handle(request, self._accept)

    def _accept(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("event_source") != "web":
            raise TikTokFault(40002, "event_source: must be one of web, app, offline, crm (web for a pixel)")
        code = body.get("event_source_id")
        if not isinstance(code, str) or (self.pixel_codes is not None and code not in self.pixel_codes):
            raise TikTokFault(40001, f"No permission to operate pixel code {code}")
        data = body.get("data")
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            raise TikTokFault(40061, f"Invalid batch size: data must hold 1 to {MAX_EVENTS} events")
        now = self.clock()
        for index, event in enumerate(data):
            problem = event_problem(event, now)
            if problem:
                code = 40062 if "PII not hashed" in problem else 40002
                raise TikTokFault(code, f"data[{index}]: {problem}")
        self.events.extend({**e, "pixel_code": code} for e in data)
        return {}

    # -- audiences

    async def _mapping(self, request: Request) -> Response:
        return await self._handle(request, self._map)

    def _map(self, body: dict[str, Any]) -> dict[str, Any]:
        advertisers = body.get("advertiser_ids")
        if not isinstance(advertisers, list) or not advertisers:
            raise TikTokFault(40002, "advertiser_ids: required")
        if self.advertiser_ids is not None and not set(advertisers) <= self.advertiser_ids:
            raise TikTokFault(40001, "No permission to operate advertiser")
        action, schema, rows = body.get("action"), body.get("id_schema"), body.get("batch_data")
        if action not in ("add", "delete"):
            raise TikTokFault(40002, "action: must be add or delete")
        if not isinstance(schema, list) or not schema or not set(schema) <= set(ID_SCHEMA):
            raise TikTokFault(40002, f"id_schema: must be a list of {', '.join(ID_SCHEMA)}")
        if not isinstance(rows, list) or not rows:
            raise TikTokFault(40002, "batch_data: must be a non-empty list")
        parsed = [self._row(i, row, schema) for i, row in enumerate(rows)]
        for audience_ids, member in parsed:
            for aid in audience_ids:
                members = self.audiences.setdefault(aid, set())
                if action == "add":
                    members.add(member)
                else:
                    members.difference_update({m for m in members if m & member})
        return {}

    def _row(self, index: int, row: Any, schema: list[str]) -> tuple[set[str], Member]:
        if not isinstance(row, list) or len(row) != len(schema):
            raise TikTokFault(40002, f"batch_data[{index}]: one entry per id_schema column")
        pairs: set[tuple[str, str]] = set()
        audience_ids: set[str] = set()
        for column, entry in zip(schema, row, strict=True):
            if entry == {}:
                continue
            if not isinstance(entry, dict) or hashed_problem("id", entry.get("id"), as_list=False):
                raise TikTokFault(40062, f"batch_data[{index}]: {column} id must be a SHA-256 hex digest")
            ids = entry.get("audience_ids")
            if not isinstance(ids, list) or not ids or not all(isinstance(a, str) for a in ids):
                raise TikTokFault(40002, f"batch_data[{index}]: audience_ids required")
            pairs.add((column, entry["id"]))
            audience_ids.update(ids)
        if not pairs:
            raise TikTokFault(40002, f"batch_data[{index}]: no identifier")
        return audience_ids, frozenset(pairs)


def event_problem(event: Any, now: float) -> str | None:
    """What TikTok would refuse in one ``data[]`` element, or None."""
    if not isinstance(event, dict):
        return "must be an object"
    checks = [
        unknown_keys("event", event, EVENT_KEYS),
        None if isinstance(event.get("event"), str) and event["event"] else "event: required",
        time_problem("event_time", event.get("event_time"), now, MAX_AGE_DAYS)
        if isinstance(event.get("event_time"), int)
        else "event_time: must be Unix seconds (an integer)",
        None
        if isinstance(event.get("limited_data_use", False), bool)
        else "limited_data_use: must be a boolean",
        url_problem(
            "page.url", event.get("page", {}).get("url") if isinstance(event.get("page"), dict) else None
        ),
        _user_problem(event.get("user")),
        _properties_problem(event.get("properties", {})),
    ]
    return first(checks)


def _user_problem(user: Any) -> str | None:
    if not isinstance(user, dict):
        return "user: required"
    problem = fields_problem("user", user, HASHED_USER, RAW_USER)
    for key in RAW_USER:
        if problem is None and key in user and not isinstance(user[key], str):
            problem = f"user.{key}: must be a string"
    return problem


def _properties_problem(props: Any) -> str | None:
    if not isinstance(props, dict):
        return "properties: must be an object"
    value = props.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "properties.value: must be a number"
    currency = props.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
        return "properties.currency: must be an ISO 4217 code"
    contents = props.get("contents")
    if contents is not None and not (
        isinstance(contents, list) and all(isinstance(c, dict) for c in contents)
    ):
        return "properties.contents: must be a list of objects"
    return None


__all__ = ["MAX_EVENTS", "FakeTikTok", "TikTokFault", "event_problem"]
