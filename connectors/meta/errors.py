"""Graph API errors translated into the relay's exception tree (meta.md §7).

Meta answers most errors with HTTP 400 and the envelope ``{"error": {"message", "type", "code",
"error_subcode", "error_user_title", "error_user_msg", "fbtrace_id", "is_transient"}}``; the class
of an error is read from ``code`` and ``error_subcode``, not from the HTTP status:

- rate limits (4, 17, 32, 341, 613, 80000-80014) → :class:`RateLimitedError`, long ``retry_after``
- transient (1, 2, 2650, ``is_transient``, HTTP 5xx) → :class:`UnavailableError`
- token, permission, policy block or retired version (190, 102, 104, 3, 10, 200-299, 368, 2635, a bad
  ``appsecret_proof``) → :class:`AuthRejectedError`: every later call would fail too, so the worker
  pauses the connector with this message until its config changes or it is resumed
- anything else (100 invalid parameter, 105, 194, 100/1713230 audience blocked ...) →
  :class:`PayloadRejectedError`: permanent for that payload
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import clip
from connectors.http import DEFAULT_RATE_LIMIT_WAIT, classify_status, parse_retry_after
from relay.exceptions import (
    AuthRejectedError,
    DeliveryError,
    PayloadRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    UnavailableError,
)

RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2, 2650})
#: errors that no payload can fix: the connector is paused until an operator acts
PAUSE_CODES = frozenset({3, 10, 102, 104, 190, 368, 2635, *range(200, 300)})
#: a rate limit is waited out for at least this long, unless Meta names a longer time
MIN_RATE_LIMIT_WAIT = 300.0
_USAGE_HEADERS = ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage")


@dataclass(frozen=True, slots=True)
class GraphError:
    """The parts of a Graph error envelope the relay uses."""

    code: int | None
    subcode: int | None
    message: str
    user_message: str | None = None
    fbtrace_id: str | None = None
    is_transient: bool = False

    def describe(self) -> str:
        """Meta's message with its codes, as recorded on a dead delivery."""
        text = self.message
        if self.user_message and self.user_message not in text:
            text = f"{text}: {self.user_message}"
        codes = [f"code {self.code}"] if self.code is not None else []
        if self.subcode is not None:
            codes.append(f"subcode {self.subcode}")
        if self.fbtrace_id:
            codes.append(f"fbtrace_id {self.fbtrace_id}")
        return f"{text} ({', '.join(codes)})" if codes else text


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def parse_graph_error(response: httpx.Response) -> GraphError | None:
    """The Graph error of ``response``, or None when its body is not the Graph envelope."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        message=str(error.get("message") or "Graph API error"),
        user_message=str(error["error_user_msg"]) if error.get("error_user_msg") else None,
        fbtrace_id=str(error["fbtrace_id"]) if error.get("fbtrace_id") else None,
        is_transient=error.get("is_transient") is True,
    )


def _regain_minutes(usage: Any) -> float:
    """The largest ``estimated_time_to_regain_access`` (minutes) in a usage header's JSON."""
    if isinstance(usage, Mapping):
        own = _int(usage.get("estimated_time_to_regain_access")) or 0
        return max([float(own), *(_regain_minutes(v) for v in usage.values())])
    if isinstance(usage, list):
        return max([0.0, *(_regain_minutes(v) for v in usage)])
    return 0.0


def retry_after(headers: httpx.Headers, *, minimum: float) -> float:
    """Seconds to wait before the next call. An explicit ``Retry-After`` (seconds or an HTTP date) is
    honoured as given; without one, ``minimum`` is the floor. The usage headers' time to regain
    access extends either."""
    explicit = parse_retry_after(headers)
    wait = minimum if explicit is None else explicit
    for name in _USAGE_HEADERS:
        try:
            usage = json.loads(headers.get(name, "null"))
        except ValueError:
            continue
        wait = max(wait, _regain_minutes(usage) * 60)
    return float(math.ceil(wait))


def _is_auth(error: GraphError) -> bool:
    # a wrong or missing appsecret_proof is reported as code 100, yet no payload can fix it
    return error.code in PAUSE_CODES or "appsecret_proof" in error.message


def error_kind(error: GraphError, status: int) -> type[DeliveryError]:
    """Meta's code table: the class of a Graph error (the HTTP status decides only 429 and 5xx)."""
    if error.code in RATE_LIMIT_CODES or status == 429:
        return RateLimitedError
    if error.code in TRANSIENT_CODES or error.is_transient or status >= 500:
        return UnavailableError
    return AuthRejectedError if _is_auth(error) else PayloadRejectedError


def classify(response: httpx.Response, mask: Callable[[str], str]) -> DeliveryError:
    """The exception for a failed ``response``; ``mask`` hides secrets in the recorded message.

    Without a Graph envelope (a proxy, a load balancer) the status alone decides, as for every connector."""
    status = response.status_code
    error = parse_graph_error(response)
    if error is None:
        # mask the whole answer before cutting it, so that no secret is left half-masked across the cut
        message = clip(mask(f"HTTP {status} from Meta: {response.text}".strip()), 300)
        kind = None
        minimum = DEFAULT_RATE_LIMIT_WAIT
    else:
        message, kind, minimum = mask(error.describe()), error_kind(error, status), MIN_RATE_LIMIT_WAIT
    wait = retry_after(response.headers, minimum=minimum)
    found = classify_status(status, message, response.headers, kind=kind, rate_limit_wait=wait)
    return found or PermanentDeliveryError(message, status_code=status)  # an envelope on a 2xx


__all__ = ["GraphError", "classify", "error_kind", "parse_graph_error", "retry_after"]
