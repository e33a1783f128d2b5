"""Reading request bodies: size limit, media type, JSON."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from relay.responses import error

if TYPE_CHECKING:
    from relay.state import RelayState

READABLE_TYPES = ("application/json", "text/plain", "")


class BodyError(Exception):
    """A body the relay does not read: ``response`` is the answer, ``reason`` the rejection metric label."""

    def __init__(self, response: Response, reason: str, count: int = 1) -> None:
        self.response = response
        self.reason = reason
        self.count = count


async def read_body(
    request: Request, max_bytes: int, timeout: float | None = None, *, limit: str = "server.max_body_bytes"
) -> bytes:
    """The raw body, or :class:`BodyError`: 413 past ``max_bytes`` (read no further; ``limit`` names the
    setting or rule in the answer), 408 when it has not all arrived within ``timeout`` seconds (a client
    trickling its body holds a connection)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyError(_too_large(max_bytes, limit), "payload_too_large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise BodyError(_too_large(max_bytes, limit), "payload_too_large")
    except TimeoutError:
        slow = error("request_timeout", f"the body did not arrive within {timeout:g} seconds")
        slow.headers["connection"] = "close"
        raise BodyError(slow, "request_timeout") from None
    return bytes(body)


async def read_json(
    request: Request, max_bytes: int, timeout: float | None = None, *, empty_is_none: bool = False
) -> Any:
    """The parsed JSON body, or :class:`BodyError` with the contract's answer (413, 415, 400, 408);
    None for an empty body when ``empty_is_none``."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in READABLE_TYPES:
        raise BodyError(
            error("unsupported_media_type", "send application/json or text/plain"), "unsupported_media_type"
        )
    body = await read_body(request, max_bytes, timeout)
    if empty_is_none and not body.strip():
        return None
    try:
        # orjson refuses NaN and Infinity, which are not JSON either
        return orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        raise BodyError(error("invalid_json", "the body is not valid JSON"), "invalid_json") from None


def _too_large(max_bytes: int, limit: str = "server.max_body_bytes") -> Response:
    return error("payload_too_large", f"the body is larger than {max_bytes} bytes ({limit})")


async def read_events(request: Request, relay: RelayState) -> list[Any]:
    """The events of a request body within the server's limits, or :class:`BodyError` with the answer
    (413, 415, 400 invalid_json / invalid_event / too_many_events); rejections are counted."""
    server = relay.settings.server
    try:
        items = event_list(await read_json(request, server.max_body_bytes, server.body_timeout_seconds))
        if items is None:
            bad = error(
                "invalid_event", 'send one event object or {"events": [...]}', accepted=0, rejected=[]
            )
            raise BodyError(bad, "invalid_event")
        if len(items) > server.max_batch:
            limit = f"at most {server.max_batch} events per request (server.max_batch)"
            raise BodyError(error("too_many_events", limit), "too_many_events", len(items))
    except BodyError as exc:
        relay.metrics.events_rejected.labels(exc.reason).inc(exc.count)
        raise
    return items


def event_list(body: Any) -> list[Any] | None:
    """The events of a body: one event object or ``{"events": [...]}``; None when it is neither."""
    if isinstance(body, dict):
        if "events" in body and "event_name" not in body:
            events = body["events"]
            return events if isinstance(events, list) and len(body) == 1 else None
        return [body]
    return None
