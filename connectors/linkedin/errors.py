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

from collections.abc import Callable
from typing import Any

import httpx

from connectors import http
from connectors.base import clip
from relay.exceptions import DeliveryError, PermanentDeliveryError

#: LinkedIn's statuses that do not mean what they mean elsewhere: a 501 (an unsupported method) and a
#: 425 will not pass on a retry
STATUS_KINDS: dict[int, type[DeliveryError]] = {425: PermanentDeliveryError, 501: PermanentDeliveryError}


def describe(body: Any, fallback: str = "no error details") -> str:
    """``CODE (serviceErrorCode n): message`` of a LinkedIn error body."""
    if not isinstance(body, dict):
        return fallback
    code = body.get("code") or body.get("status") or "ERROR"
    service = body.get("serviceErrorCode")
    where = f" (serviceErrorCode {service})" if service is not None else ""
    return f"{code}{where}: {body.get('message', '')}".strip()


def status_kind(status: int) -> type[DeliveryError] | None:
    """The class of a LinkedIn status: the relay's table (:mod:`connectors.http`), but for the statuses
    LinkedIn means otherwise."""
    return STATUS_KINDS.get(status) or http.status_kind(status)


def classify(response: httpx.Response, *, mask: Callable[[str], str]) -> DeliveryError | None:
    """The exception a LinkedIn answer means, or ``None`` for a success."""
    status = response.status_code
    if status < 300:
        return None
    details = describe(http.json_body(response), response.reason_phrase or "no error details")
    message = clip(mask(f"LinkedIn answered {status}: {details}"), http.MAX_MESSAGE)
    return http.classify_status(status, message, response.headers, kind=status_kind(status))


__all__ = ["STATUS_KINDS", "classify", "describe", "status_kind"]
