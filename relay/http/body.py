"""Reading request bodies: size limit, arrival deadline, media type, JSON; the events of a body.

The same checks serve Starlette handlers (:func:`read_body`, :func:`read_json`) and the raw ASGI hot
path (:func:`receive_body`, :func:`parse_events`)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from relay.http.responses import error
from relay.settings import ServerSettings

READABLE_TYPES = ("application/json", "text/plain", "")


class BodyError(Exception):
    """A body the relay does not read: the answer is ``code`` / ``detail`` (``extra`` added to the JSON),
    ``reason`` the rejection metric label, ``close`` whether the connection should close."""

    def __init__(
        self,
        code: str,
        detail: str,
        reason: str | None = None,
        count: int = 1,
        *,
        close: bool = False,
        **extra: Any,
    ) -> None:
        self.code = code
        self.detail = detail
        self.reason = reason or code
        self.count = count
        self.close = close
        self.extra = extra

    @property
    def response(self) -> Response:
        answer = error(self.code, self.detail, **self.extra)
        if self.close:
            answer.headers["connection"] = "close"
        return answer


def _too_large(max_bytes: int, limit: str) -> BodyError:
    return BodyError("payload_too_large", f"the body is larger than {max_bytes} bytes ({limit})")


def _too_slow(timeout: float | None) -> BodyError:
    detail = f"the body did not arrive within {timeout:g} seconds"
    return BodyError("request_timeout", detail, close=True)


def check_declared(declared: str | None, max_bytes: int, limit: str = "server.max_body_bytes") -> None:
    """413 before reading anything when ``Content-Length`` already says too much."""
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > max_bytes)
    ):
        raise _too_large(max_bytes, limit)


async def read_body(
    request: Request, max_bytes: int, timeout: float | None = None, *, limit: str = "server.max_body_bytes"
) -> bytes:
    """The raw body, or :class:`BodyError`: 413 past ``max_bytes`` (read no further; ``limit`` names the
    setting or rule in the answer), 408 when it has not all arrived within ``timeout`` seconds (a client
    trickling its body holds a connection)."""
    check_declared(request.headers.get("content-length"), max_bytes, limit)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes, limit)
    except TimeoutError:
        raise _too_slow(timeout) from None
    return bytes(body)


async def receive_body(receive: Receive, max_bytes: int, timeout: float | None) -> bytes:
    """:func:`read_body` for a raw ASGI request (``Content-Length`` checked by the caller).

    The deadline is one timer on the loop rather than ``asyncio.timeout`` (a third of its cost on the
    hot path): when it fires, the task is cancelled while it waits for the body, and that
    cancellation, ours, becomes the 408."""
    task = asyncio.current_task()
    if timeout is None or task is None:
        return await _receive_all(receive, max_bytes)
    expired: list[bool] = []
    timer = asyncio.get_running_loop().call_later(timeout, _expire, task, expired)
    try:
        return await _receive_all(receive, max_bytes)
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            raise _too_slow(timeout) from None
        raise
    finally:
        timer.cancel()


def _expire(task: asyncio.Task[object], expired: list[bool]) -> None:
    expired.append(True)
    task.cancel()


async def _receive_all(receive: Receive, max_bytes: int) -> bytes:
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        chunk: bytes = message.get("body", b"")  # the whole body in one message: the usual case
        if len(chunk) > max_bytes:
            raise _too_large(max_bytes, "server.max_body_bytes")
        return chunk
    body = bytearray()
    while message["type"] == "http.request":
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise _too_large(max_bytes, "server.max_body_bytes")
        if not message.get("more_body", False):
            break
        message = await receive()
    return bytes(body)


def check_media(content_type: str | None, content_encoding: str | None = None) -> None:
    """415 unless the body is ``application/json`` or ``text/plain`` (sendBeacon), or untyped, and sent as
    it is (a ``Content-Encoding`` other than ``identity``, gzip say, is not read)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in READABLE_TYPES:
        raise BodyError("unsupported_media_type", "send application/json or text/plain")
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        raise BodyError("unsupported_media_type", "send the body uncompressed (no Content-Encoding)")


#: an integer literal that may not fit in 64 bits (orjson reads one as a float, silently changing it)
_LONG_NUMBER = re.compile(rb"\d{20}")


def parse_json(body: bytes, *, empty_is_none: bool = False) -> Any:
    """The body's JSON. orjson reads it; a body orjson refuses that is still JSON, whose refusal belongs
    to one value (a lone surrogate escape, a number too large for a double), and a body with an integer
    that may not fit in 64 bits, are read by the standard library instead, exactly: so the event holding
    that value is refused alone, and no integer is changed into another."""
    if empty_is_none and not body.strip():
        return None
    if _LONG_NUMBER.search(body) is None:
        try:
            return orjson.loads(body)
        except (orjson.JSONDecodeError, RecursionError):
            pass
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BodyError("invalid_json", "the body is not valid JSON") from None


def _not_json(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``, which the standard library reads but are not JSON."""
    raise ValueError(f"{name} is not JSON")


async def read_json(
    request: Request, max_bytes: int, timeout: float | None = None, *, empty_is_none: bool = False
) -> Any:
    """The parsed JSON body, or :class:`BodyError` with the contract's answer (413, 415, 400, 408);
    None for an empty body when ``empty_is_none``."""
    check_media(request.headers.get("content-type"), request.headers.get("content-encoding"))
    return parse_json(await read_body(request, max_bytes, timeout), empty_is_none=empty_is_none)


def parse_events(body: bytes, server: ServerSettings) -> list[Any]:
    """The events of a body within ``server.max_batch``, or :class:`BodyError` (400 invalid_json /
    invalid_event / too_many_events)."""
    items = event_list(parse_json(body))
    if items is None:
        raise BodyError(
            "invalid_event", 'send one event object or {"events": [...]}', accepted=0, rejected=[]
        )
    if len(items) > server.max_batch:
        limit = f"at most {server.max_batch} events per request (server.max_batch)"
        raise BodyError("too_many_events", limit, count=len(items))
    return items


def event_list(body: Any) -> list[Any] | None:
    """The events of a body: one event object or ``{"events": [...]}``; None when it is neither."""
    if isinstance(body, dict):
        if "events" in body and "event_name" not in body:
            events = body["events"]
            return events if isinstance(events, list) and len(body) == 1 else None
        return [body]
    return None
