"""The HTTP boundary shared by every connector: one status classifier, one ``Retry-After`` parser and one
short in-call retry.

A platform answer becomes a relay error here, once:

==================  ==========================================================================
status              raised
==================  ==========================================================================
2xx                 nothing
429                 RateLimitedError, ``retry_after`` = the platform's own wait, else
                    ``Retry-After``, else :data:`DEFAULT_RATE_LIMIT_WAIT`
408, 423, 425, 5xx  UnavailableError, ``retry_after`` = ``Retry-After`` when given
401, 403            AuthRejectedError (the worker pauses the connector)
400, 413, 422       PayloadRejectedError (the batch is bisected to find the bad item)
anything else       PermanentDeliveryError (nothing in the request can pass)
==================  ==========================================================================

A platform that answers with error codes (Meta's Graph API) names the class itself from its code table
and passes it as ``kind``, as does one whose statuses differ from this table (LinkedIn's 501, Google's
409); the waits are still read here.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from relay.exceptions import (
    AuthRejectedError,
    DeliveryError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
    UnavailableError,
)

#: a 429 that names no wait is waited out this long
DEFAULT_RATE_LIMIT_WAIT = 60.0
RETRYABLE_STATUSES = frozenset({408, 423, 425})
AUTH_STATUSES = frozenset({401, 403})
PAYLOAD_STATUSES = frozenset({400, 413, 422})
#: how much of a platform's error answer is recorded (masked first, then cut)
MAX_MESSAGE = 500


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None (proxies, load balancers and some routing errors answer in HTML)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` in seconds, from delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent
    or unreadable. One parser for every connector, so they agree on HTTP-date values."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def status_kind(status: int) -> type[DeliveryError] | None:
    """The error class an HTTP status means by itself (None for a success)."""
    if 200 <= status < 300:
        return None
    if status == 429:
        return RateLimitedError
    if status in RETRYABLE_STATUSES or status >= 500:
        return UnavailableError
    if status in AUTH_STATUSES:
        return AuthRejectedError
    if status in PAYLOAD_STATUSES:
        return PayloadRejectedError
    return PermanentDeliveryError


def classify_status(
    status: int,
    message: str,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    kind: type[DeliveryError] | None = None,
    rate_limit_wait: float | None = None,
) -> DeliveryError | None:
    """The relay error of a platform answer, or None for a success.

    ``message`` is recorded as is: mask it (and cut it) first. ``kind`` is the class the platform's own
    error code names, when it has one; ``rate_limit_wait`` the wait its own headers announce."""
    kind = kind or status_kind(status)
    if kind is None:
        return None
    if issubclass(kind, RateLimitedError):
        wait = rate_limit_wait if rate_limit_wait is not None else parse_retry_after(headers, now)
        return kind(
            message, status_code=status, retry_after=wait if wait is not None else DEFAULT_RATE_LIMIT_WAIT
        )
    if issubclass(kind, RetryableDeliveryError):
        return kind(message, status_code=status, retry_after=parse_retry_after(headers, now))
    return kind(message, status_code=status)


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc.retry_after if isinstance(exc, RetryableDeliveryError) else None


def in_call_retry(
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    *,
    attempts: int = 3,
    wait: float = 0.05,
    max_wait: float = 0.5,
) -> AsyncRetrying:
    """A short retry inside one call: at most ``attempts`` tries, jittered exponential waits from ``wait``
    up to ``max_wait`` seconds. A ``retry_after`` the platform names is honoured; one longer than
    ``max_wait`` stops the retry at once (the durable retry of the outbox, or the next run, takes over)."""
    backoff = wait_random_exponential(multiplier=wait, max=max_wait)

    def stop(state: RetryCallState) -> bool:
        after = _retry_after(state)
        return state.attempt_number >= max(attempts, 1) or (after is not None and after > max_wait)

    def pause(state: RetryCallState) -> float:
        after = _retry_after(state)
        return after if after is not None else backoff(state)

    return AsyncRetrying(retry=retry_if_exception_type(retry_on), stop=stop, wait=pause, reraise=True)


__all__ = [
    "AUTH_STATUSES",
    "DEFAULT_RATE_LIMIT_WAIT",
    "MAX_MESSAGE",
    "PAYLOAD_STATUSES",
    "RETRYABLE_STATUSES",
    "classify_status",
    "in_call_retry",
    "json_body",
    "parse_retry_after",
    "status_kind",
]
