"""TikTok Business API answers translated into the relay's exception tree.

TikTok answers most calls with HTTP 200 and ``{"code", "message", "request_id", "data"}``; success is
HTTP 2xx **and** ``code`` 0 (20001, partly OK, counts as success). Otherwise:

=========================================  ==========================================================
code / status                              raised
=========================================  ==========================================================
40100 (too frequent), HTTP 429             RateLimitedError (``Retry-After`` or 60 s)
50000, 50002, 51xxx, HTTP 5xx / 408        UnavailableError
40001 (permission), 40102/40104/40105      AuthRejectedError: the connector pauses
(token expired, empty, invalid), HTTP 401
40000, 40002, 40061, 40062 (PII not        PayloadRejectedError: the batch is bisected to the bad event
hashed), HTTP 400
other 4xxxx (40063 partner_name ...)       PermanentDeliveryError: every event of the request fails
=========================================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors import payload as p
from connectors.base import clip
from connectors.http import MAX_MESSAGE, classify_status, json_body
from relay.exceptions import (
    AuthRejectedError,
    DeliveryError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    UnavailableError,
)

OK_CODES = frozenset({0, 20001})
RATE_LIMIT_CODES = frozenset({40100})
AUTH_CODES = frozenset({40001, 40102, 40104, 40105})
PAYLOAD_CODES = frozenset({40000, 40002, 40061, 40062})


def _code(body: Any) -> int | None:
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def classify(response: httpx.Response, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception a TikTok answer means, or None for a success."""
    body = json_body(response)
    code = _code(body)
    if response.is_success and code in OK_CODES:
        return None
    if code is None:
        if response.is_success:
            return UnavailableError(f"TikTok answered {response.status_code} without a code; retrying")
        return p.status_error(response, "TikTok", p.detail_of(response), mask)
    text = str(body.get("message") or "") if isinstance(body, dict) else ""
    request_id = body.get("request_id") if isinstance(body, dict) else None
    message = clip(mask(f"TikTok code {code}: {text} (request_id {request_id})"), MAX_MESSAGE)
    status = response.status_code
    kind = code_kind(code, status)
    return classify_status(status, message, response.headers, kind=kind)


def code_kind(code: int, status: int) -> type[DeliveryError]:
    """TikTok's code table: the class of a failed answer's ``code`` (a 429 or 5xx status decides first)."""
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimitedError
    if code in (50000, 50002) or 51000 <= code < 52000 or status >= 500:
        return UnavailableError
    if code in AUTH_CODES or status in (401, 403):
        return AuthRejectedError
    if code in PAYLOAD_CODES:
        return PayloadRejectedError
    return PermanentDeliveryError


__all__ = ["AUTH_CODES", "OK_CODES", "PAYLOAD_CODES", "RATE_LIMIT_CODES", "classify", "code_kind"]
