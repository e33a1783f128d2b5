"""Reading request bodies: size limit, media type, JSON."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from relay.responses import error

READABLE_TYPES = ("application/json", "text/plain", "")


class BodyError(Exception):
    def __init__(self, response: Response, reason: str) -> None:
        self.response = response
        self.reason = reason


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body, or :class:`BodyError` with the contract's answer (413, 415, 400)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in READABLE_TYPES:
        raise BodyError(
            error("unsupported_media_type", "send application/json or text/plain"), "unsupported_media_type"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyError(_too_large(max_bytes), "payload_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyError(_too_large(max_bytes), "payload_too_large")
    try:
        # orjson refuses NaN and Infinity, which are not JSON either
        return orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        raise BodyError(error("invalid_json", "the body is not valid JSON"), "invalid_json") from None


def _too_large(max_bytes: int) -> Response:
    return error("payload_too_large", f"the body is larger than {max_bytes} bytes (server.max_body_bytes)")


def event_list(body: Any) -> list[Any] | None:
    """The events of a body: one event object or ``{"events": [...]}``; None when it is neither."""
    if isinstance(body, dict):
        if "events" in body and "event_name" not in body:
            events = body["events"]
            return events if isinstance(events, list) and len(body) == 1 else None
        return [body]
    return None
