"""A fake LinkedIn Conversions API: ``POST /rest/conversionEvents`` as a Rest.li BATCH_CREATE.

Strict like the real one: a Bearer member token (401 ``INVALID_ACCESS_TOKEN``), a ``LinkedIn-Version``
header (``YYYYMM``; 426 for a sunset version), ``X-Restli-Protocol-Version: 2.0.0`` and
``X-RestLi-Method: BATCH_CREATE``, 1 to 5,000 elements, each with a known conversion rule URN,
``conversionHappenedAt`` in epoch milliseconds within the last 90 days, ``SHA256_EMAIL`` as SHA-256 hex,
``userInfo`` with both names. One invalid element refuses the request (422 naming the element).
Accepted elements answer ``{"elements": [{"status": 201}, ...]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from relay.sandbox.base import BaseConversionFake, RecordedRequest, bearer

MAX_ELEMENTS = 5000
WINDOW_MS = 90 * 86400 * 1000
#: versions LinkedIn has switched off (202511 sunset on 2026-11-16)
SUNSET_BEFORE = 202512
ID_TYPES = ("SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "AXCIOM_ID", "ORACLE_MOAT_ID")
ELEMENT_KEYS = ("conversion", "conversionHappenedAt", "conversionValue", "eventId", "user")
USER_KEYS = ("userIds", "userInfo", "externalIds")
_URN = re.compile(r"urn:lla:llaPartnerConversion:(\d+)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def li_error(status: int, code: str, message: str, service: int = 100) -> JSONResponse:
    return JSONResponse(
        {"status": status, "serviceErrorCode": service, "code": code, "message": message}, status_code=status
    )


def element_problem(element: Any, rules: set[str] | None, now_ms: int) -> str | None:
    """The first problem of one element (``None`` when it is valid)."""
    if not isinstance(element, dict):
        return "must be an object"
    unknown = sorted(set(element) - set(ELEMENT_KEYS))
    if unknown:
        return f"unrecognized fields {unknown}"
    urn = _URN.fullmatch(str(element.get("conversion", "")))
    if urn is None:
        return "/conversion :: must be urn:lla:llaPartnerConversion:<id>"
    if rules is not None and urn[1] not in rules:
        return f"/conversion :: conversion rule {urn[1]} not found"
    at = element.get("conversionHappenedAt")
    if not isinstance(at, int) or isinstance(at, bool) or at < 10**12:
        return "/conversionHappenedAt :: must be epoch milliseconds"
    if at < now_ms - WINDOW_MS or at > now_ms + 300_000:
        return "/conversionHappenedAt :: must be within the last 90 days"
    if "eventId" in element and not isinstance(element["eventId"], str):
        return "/eventId :: must be a string"
    return value_problem(element.get("conversionValue")) or user_problem(element.get("user"))


def value_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"currencyCode", "amount"}:
        return "/conversionValue :: needs currencyCode and amount"
    if not re.fullmatch(r"[A-Z]{3}", str(value["currencyCode"])):
        return "/conversionValue/currencyCode :: not an ISO 4217 code"
    if not isinstance(value["amount"], str) or not _AMOUNT.fullmatch(value["amount"]):
        return "/conversionValue/amount :: must be a decimal string"
    return None


def user_problem(user: Any) -> str | None:
    if not isinstance(user, dict) or set(user) - set(USER_KEYS):
        return "/user :: must hold userIds, userInfo or externalIds"
    ids = user.get("userIds", [])
    info = user.get("userInfo")
    if not ids and info is None:
        return "/user :: at least one userId or userInfo is required"
    for i, item in enumerate(ids if isinstance(ids, list) else [None]):
        if not isinstance(item, dict) or item.get("idType") not in ID_TYPES or not item.get("idValue"):
            return f"/user/userIds/{i} :: needs a known idType and an idValue"
        if item["idType"] == "SHA256_EMAIL" and not _HEX64.fullmatch(str(item["idValue"])):
            return f"/user/userIds/{i}/idValue :: must be a SHA-256 hex digest"
    if info is not None and not (isinstance(info, dict) and info.get("firstName") and info.get("lastName")):
        return "/user/userInfo :: firstName and lastName are both required"
    external = user.get("externalIds")
    if external is not None and not (isinstance(external, list) and len(external) == 1):
        return "/user/externalIds :: exactly one value"
    return None


class FakeLinkedIn(BaseConversionFake):
    """The fake; :attr:`conversions` holds the accepted elements."""

    platform = "linkedin"

    def __init__(self, *, conversion_rules: Iterable[str] | None = None, **options: Any) -> None:
        """``None`` rules accept any rule id; ``options`` as :class:`BaseConversionFake` takes them."""
        super().__init__(**options)
        self.conversion_rules = set(conversion_rules) if conversion_rules is not None else None
        #: LinkedIn's name for the accepted events
        self.conversions = self.events

    def routes(self) -> list[BaseRoute]:
        return [Route("/rest/conversionEvents", self._conversion_events, methods=["POST"])]

    def state(self) -> dict[str, Any]:
        return {"conversions": len(self.conversions), "recent": self.conversions[-20:][::-1]}

    def _auth_problem(self, recorded: RecordedRequest) -> Response | None:
        if not self.token_accepted(bearer(recorded.headers)):
            return li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = recorded.headers.get("linkedin-version", "")
        if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", version):
            return li_error(400, "VERSION_MISSING", "A version must be present. Please specify a version.")
        if int(version) < SUNSET_BEFORE:
            return li_error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if recorded.headers.get("x-restli-protocol-version") != "2.0.0":
            return li_error(400, "INVALID_PROTOCOL", "X-Restli-Protocol-Version 2.0.0 is required")
        return None

    async def _conversion_events(self, request: Request) -> Response:
        recorded, answer = await self.receive(request, self._auth_problem)
        if answer is not None:
            return answer
        if request.headers.get("x-restli-method", "").upper() != "BATCH_CREATE":
            return li_error(400, "INVALID_METHOD", "X-RestLi-Method: BATCH_CREATE is required for elements")
        try:
            body = json.loads(recorded.body)
        except ValueError:
            return li_error(400, "INVALID_JSON", "the body is not valid JSON")
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ELEMENTS:
            return li_error(400, "INVALID_BATCH", f"elements must hold 1 to {MAX_ELEMENTS} conversion events")
        now_ms = int(self.clock() * 1000)
        for index, element in enumerate(elements):
            problem = element_problem(element, self.conversion_rules, now_ms)
            if problem:
                problem = problem if problem.startswith("/") else f" :: {problem}"
                return li_error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /elements/{index}{problem}")
        self.conversions.extend(elements)
        return JSONResponse({"elements": [{"status": 201} for _ in elements]})


__all__ = ["MAX_ELEMENTS", "FakeLinkedIn", "element_problem"]
