"""Google API answers translated into the relay's exception tree (the connector's HTTP boundary).

A whole request that fails carries a ``google.rpc.Status`` (``{"error": {"code", "message", "status",
"details": [GoogleAdsFailure | BadRequest ...]}}``):

=================================  ==========================================================
HTTP / status                      raised
=================================  ==========================================================
400 ``INVALID_ARGUMENT``           PayloadRejectedError (the batch is bisected)
401 ``UNAUTHENTICATED``            AuthRejectedError (after one token refresh, if possible)
403 ``PERMISSION_DENIED``          AuthRejectedError (developer token, account access: paused)
429 ``RESOURCE_EXHAUSTED``         RateLimitedError (``Retry-After``, else 60 s)
408, 409 ``ABORTED``, 5xx          UnavailableError
other 4xx                          PermanentDeliveryError
=================================  ==========================================================

With ``partialFailure: true`` a 200 answer lists per-row errors in ``partialFailureError``; each
``GoogleAdsFailure`` error names its row in ``location.fieldPathElements[0].index``. Rows with a
transient code (quota, internal, concurrent modification, a conversion action created in the last
hours) are retried; the others fail alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import clip
from connectors.http import MAX_MESSAGE, classify_status, json_body
from relay.exceptions import DeliveryError, PermanentDeliveryError, UnavailableError

#: Google's statuses that do not mean what they mean elsewhere (:mod:`connectors.http`): an ``ABORTED``
#: 409 passes on a retry; only a 400 names a bad payload (worth bisecting)
STATUS_KINDS: dict[int, type[DeliveryError]] = {
    409: UnavailableError,
    413: PermanentDeliveryError,
    422: PermanentDeliveryError,
    423: PermanentDeliveryError,
    425: PermanentDeliveryError,
}
#: row error codes worth another try later
TRANSIENT_CODES = frozenset(
    {
        "TOO_RECENT_CONVERSION_ACTION",
        "CONCURRENT_MODIFICATION",
        "INTERNAL_ERROR",
        "TRANSIENT_ERROR",
        "RESOURCE_EXHAUSTED",
        "RESOURCE_TEMPORARILY_EXHAUSTED",
    }
)
TRANSIENT_KINDS = frozenset({"internalError", "quotaError", "databaseError"})


def failure_errors(status: Any) -> list[dict[str, Any]]:
    """The ``errors`` of every ``GoogleAdsFailure`` in a ``google.rpc.Status``."""
    details = status.get("details") if isinstance(status, Mapping) else None
    found: list[dict[str, Any]] = []
    for detail in details if isinstance(details, list) else []:
        errors = detail.get("errors") if isinstance(detail, Mapping) else None
        found += [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    return found


def error_code(error: Mapping[str, Any]) -> tuple[str, str]:
    """``(kind, code)`` of one error, e.g. ``("conversionUploadError", "CLICK_NOT_FOUND")``."""
    code = error.get("errorCode")
    if isinstance(code, Mapping) and code:
        kind, value = next(iter(code.items()))
        return str(kind), str(value)
    return "unknown", "UNKNOWN"


def describe_error(error: Mapping[str, Any]) -> str:
    _kind, code = error_code(error)
    return f"{code}: {error.get('message', '')}".strip()


def is_transient(error: Mapping[str, Any]) -> bool:
    kind, code = error_code(error)
    return kind in TRANSIENT_KINDS or code in TRANSIENT_CODES


def row_errors(body: Any) -> dict[int, list[dict[str, Any]]]:
    """Per-row errors of a partial failure: {row index: errors}."""
    status = body.get("partialFailureError") if isinstance(body, Mapping) else None
    rows: dict[int, list[dict[str, Any]]] = {}
    for error in failure_errors(status):
        location = error.get("location")
        path = location.get("fieldPathElements") if isinstance(location, Mapping) else None
        first = path[0] if isinstance(path, list) and path else None
        index = first.get("index") if isinstance(first, Mapping) else None
        if isinstance(index, int):
            rows.setdefault(index, []).append(error)
    return rows


def summarize(body: Any, fallback: str) -> str:
    status = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(status, Mapping):
        return fallback
    errors = "; ".join(describe_error(e) for e in failure_errors(status))
    head = f"{status.get('status', 'ERROR')}: {status.get('message', '')}".strip()
    return f"{head} ({errors})" if errors else head


def classify(response: httpx.Response, *, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception a Google answer means, or ``None`` for a success."""
    status = response.status_code
    if status < 300:
        return None
    text = summarize(json_body(response), response.reason_phrase or "no error details")
    message = clip(mask(f"Google answered {status}: {text}"), MAX_MESSAGE)
    return classify_status(status, message, response.headers, kind=STATUS_KINDS.get(status))


__all__ = [
    "STATUS_KINDS",
    "TRANSIENT_CODES",
    "classify",
    "describe_error",
    "error_code",
    "failure_errors",
    "is_transient",
    "row_errors",
    "summarize",
]
