"""LinkedIn REST answers translated into the relay's exception tree (the connector's HTTP boundary).

LinkedIn errors look like ``{"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN",
"message": "..."}``.

==========================  ================================================================
status                      raised
==========================  ================================================================
2xx                         nothing
400, 413, 422               PayloadRejectedError (the batch is bisected to find the bad element)
401, 403                    AuthRejectedError (the connector is paused until resumed)
429                         RateLimitedError (``Retry-After``, else 60 s)
408, 423, 5xx except 501    UnavailableError (``Retry-After`` honoured)
other 4xx, 501              PermanentDeliveryError
==========================  ================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from connectors.base import clip, parse_retry_after
from relay.exceptions import (
    AuthRejectedError,
    DeliveryError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    UnavailableError,
)

DEFAULT_RATE_LIMIT_WAIT = 60.0
RETRYABLE_STATUSES = frozenset({408, 423})
_MAX_MESSAGE = 500


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def describe(body: Any, fallback: str = "no error details") -> str:
    """``CODE (serviceErrorCode n): message`` of a LinkedIn error body."""
    if not isinstance(body, dict):
        return fallback
    code = body.get("code") or body.get("status") or "ERROR"
    service = body.get("serviceErrorCode")
    where = f" (serviceErrorCode {service})" if service is not None else ""
    return f"{code}{where}: {body.get('message', '')}".strip()


def classify(response: httpx.Response, *, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception a LinkedIn answer means, or ``None`` for a success."""
    status = response.status_code
    if status < 300:
        return None
    details = describe(json_body(response), response.reason_phrase or "no error details")
    message = clip(mask(f"LinkedIn answered {status}: {details}"), _MAX_MESSAGE)
    retry_after = parse_retry_after(response.headers)
    if status in (400, 413, 422):
        return PayloadRejectedError(message, status_code=status)
    if status in (401, 403):
        return AuthRejectedError(message, status_code=status)
    if status == 429:
        wait = retry_after if retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
        return RateLimitedError(message, status_code=status, retry_after=wait)
    if status in RETRYABLE_STATUSES or (status >= 500 and status != 501):
        return UnavailableError(message, status_code=status, retry_after=retry_after)
    return PermanentDeliveryError(message, status_code=status)


__all__ = ["DEFAULT_RATE_LIMIT_WAIT", "classify", "describe", "json_body"]
