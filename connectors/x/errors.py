"""X Ads API answers translated into the relay's exception tree (the connector's one HTTP boundary).

==========================  ================================================================
status                      raised
==========================  ================================================================
2xx                         nothing
400, 413                    PayloadRejectedError (the batch is bisected to find the bad item)
404 about an ``event_id``   PayloadRejectedError (a tag that is not the account's)
401, 403                    AuthRejectedError (the connector is paused)
other 404, other 4xx        PermanentDeliveryError
429                         RateLimitedError, ``retry_after`` = rate-limit reset - now
500, 503, 504, 408, 423     UnavailableError (503 honours ``retry-after``)
==========================  ================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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

from .ratelimit import reset_wait

#: a 429 without a usable reset header waits this long
DEFAULT_RATE_LIMIT_WAIT = 60.0
#: never retry a 429 sooner than this (clock skew, a reset already past)
MIN_RATE_LIMIT_WAIT = 5.0
RETRYABLE_STATUSES = frozenset({408, 423, 500, 502, 503, 504})
_MAX_MESSAGE = 500


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or ``None`` (X answers some errors, such as routing 404s, in HTML)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def error_items(body: Any) -> list[dict[str, Any]]:
    """The ``errors`` list of an X error body (``[]`` when there is none)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def summarize(errors: list[dict[str, Any]], response: httpx.Response) -> str:
    """One line for the delivery's ``last_error``: ``CODE (parameter): message; ...`` (uncut: the caller
    masks it, then cuts it)."""
    parts = []
    for error in errors:
        where = f" ({error['parameter']})" if error.get("parameter") else ""
        parts.append(f"{error.get('code', 'ERROR')}{where}: {error.get('message', '')}".strip())
    return "; ".join(parts) or response.reason_phrase or "no error details"


def retry_after_header(headers: Mapping[str, str], now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), if present."""
    return parse_retry_after(headers, now)


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """How long to wait after a 429: until the announced reset, at least a few seconds."""
    wait = reset_wait(headers, now)
    if wait is None:
        wait = retry_after_header(headers, now)
    return max(wait if wait is not None else DEFAULT_RATE_LIMIT_WAIT, MIN_RATE_LIMIT_WAIT)


def _is_event_tag_error(errors: list[dict[str, Any]]) -> bool:
    return any(e.get("parameter") == "event_id" or "event_id" in str(e.get("message", "")) for e in errors)


def classify(response: httpx.Response, *, now: float, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception an X answer means, or ``None`` for a success."""
    status = response.status_code
    if status < 300:
        return None
    errors = error_items(json_body(response))
    # mask before cutting: a secret across the cut would otherwise be stored in part
    message = clip(mask(f"X answered {status}: {summarize(errors, response)}"), _MAX_MESSAGE)
    if status in (400, 413) or (status == 404 and _is_event_tag_error(errors)):
        return PayloadRejectedError(message, status_code=status)
    if status in (401, 403):
        return AuthRejectedError(message, status_code=status)
    if status == 429:
        return RateLimitedError(
            message, status_code=status, retry_after=rate_limit_wait(response.headers, now)
        )
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = retry_after_header(response.headers, now)
        return UnavailableError(message, status_code=status, retry_after=retry_after)
    return PermanentDeliveryError(message, status_code=status)


__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "MIN_RATE_LIMIT_WAIT",
    "classify",
    "error_items",
    "json_body",
    "rate_limit_wait",
    "retry_after_header",
    "summarize",
]
