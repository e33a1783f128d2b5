"""X Ads API answers translated into the relay's exception tree (the connector's one HTTP boundary).

The status decides, as for every connector (:func:`connectors.http.classify_status`); X adds only that a
404 about an ``event_id`` is a payload rejection (a tag that is not the account's), and that a 429 waits
until the rate-limit reset X announces (at least :data:`MIN_RATE_LIMIT_WAIT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import clip
from connectors.http import (
    DEFAULT_RATE_LIMIT_WAIT,
    MAX_MESSAGE,
    classify_status,
    json_body,
    parse_retry_after,
)
from relay.exceptions import DeliveryError, PayloadRejectedError

from .ratelimit import reset_wait

#: never retry a 429 sooner than this (clock skew, a reset already past)
MIN_RATE_LIMIT_WAIT = 5.0


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


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """How long to wait after a 429: until the announced reset, at least a few seconds."""
    wait = reset_wait(headers, now)
    if wait is None:
        wait = parse_retry_after(headers, now)
    return max(wait if wait is not None else DEFAULT_RATE_LIMIT_WAIT, MIN_RATE_LIMIT_WAIT)


def _is_event_tag_error(errors: list[dict[str, Any]]) -> bool:
    return any(e.get("parameter") == "event_id" or "event_id" in str(e.get("message", "")) for e in errors)


def classify(response: httpx.Response, *, now: float, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception an X answer means, or ``None`` for a success."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    errors = error_items(json_body(response))
    # mask before cutting: a secret across the cut would otherwise be stored in part
    message = clip(mask(f"X answered {status}: {summarize(errors, response)}"), MAX_MESSAGE)
    kind = PayloadRejectedError if status == 404 and _is_event_tag_error(errors) else None
    wait = rate_limit_wait(response.headers, now) if status == 429 else None
    return classify_status(status, message, response.headers, now=now, kind=kind, rate_limit_wait=wait)


__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "MIN_RATE_LIMIT_WAIT",
    "classify",
    "error_items",
    "json_body",
    "rate_limit_wait",
    "summarize",
]
