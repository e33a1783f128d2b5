"""The HTTP server: uvicorn with the relay's limits, answering the errors it raises itself in JSON.

uvicorn bounds nothing before a request starts: a client may open a connection and trickle its request
line and headers forever, and the httptools parser takes headers of any size. The protocol classes
here add, for both of uvicorn's HTTP/1.1 implementations:

- a header deadline (``server.header_timeout_seconds``): from the moment the server waits for a
  request (connection opened, previous response sent) until its headers are complete; past it the
  connection closes, with a ``408 request_timeout`` if part of a request had arrived;
- a header size limit (``server.max_header_bytes``): ``431 headers_too_large``;
- JSON answers for malformed requests: ``400 invalid_request`` instead of uvicorn's plain text.

Bodies are bounded by the app (``relay.http.body``: size and ``server.body_timeout_seconds``).

Several server processes on one socket (``relay serve --workers N``): :mod:`relay.cli.supervisor`.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any, ClassVar, Literal

import h11
import orjson
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from relay.settings import ServerSettings

HttpKind = Literal["auto", "h11", "httptools"]


def json_response(status: int, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 answer in the contract's error shape, closing the connection."""
    body = orjson.dumps({"error": code, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Bounded:
    """What both protocol classes add; the subclasses say when a request's headers are complete."""

    header_timeout: ClassVar[float] = 10.0
    max_header_bytes: ClassVar[int] = 16384

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _deadline: asyncio.TimerHandle | None = None
    _partial = False
    _too_large = False

    # uvicorn's protocol classes come after this one in the bases, so super() reaches them
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._wait_for_request(fresh=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._wait_for_request(fresh=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def _wait_for_request(self, *, fresh: bool) -> None:
        """Run the header deadline while the server waits on the client (no request being answered)."""
        if self.transport is None or self.transport.is_closing():
            self._stop_deadline()
        elif self.cycle is None or self.cycle.response_complete:
            if fresh:
                self._stop_deadline()
            if self._deadline is None:
                self._partial = False
                self._deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        else:
            self._stop_deadline()

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._partial:
            detail = f"the request headers did not arrive within {self.header_timeout:g} seconds"
            self.transport.write(json_response(408, "request_timeout", detail))
        self.transport.close()

    def _bad_request(self) -> None:
        if self._too_large:
            detail = f"the request line and headers exceed {self.max_header_bytes} bytes"
            answer = json_response(431, "headers_too_large", detail)
        else:
            answer = json_response(400, "invalid_request", "the request is not valid HTTP/1.1")
        self._stop_deadline()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


class RelayH11Protocol(_Bounded, H11Protocol):
    """uvicorn's h11 protocol with the relay's bounds (h11 itself limits the header size)."""

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._too_large = True
            self._bad_request()
            return
        # uvicorn cancels its keep-alive timer on any byte; the header deadline runs on regardless
        super().data_received(data)
        self._partial = True
        self._wait_for_request(fresh=False)

    def _head_too_large(self, data: bytes) -> bool:
        """h11 bounds only a head still incomplete; one that arrives whole in a packet is measured here."""
        pending = self.conn.trailing_data[0] + data
        end = pending.find(b"\r\n\r\n")
        return (end + 4 if end >= 0 else len(pending)) > self.max_header_bytes

    def send_400_response(self, msg: str) -> None:
        self._too_large = len(self.conn.trailing_data[0]) >= self.max_header_bytes
        self._bad_request()


class _HeadersTooLarge(Exception):
    """Raised from a parser callback; httptools reports it as a parser error."""


class RelayHttpToolsProtocol(_Bounded, HttpToolsProtocol):
    """uvicorn's httptools protocol with the relay's bounds, the header size limit included."""

    _header_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._partial = True
        self._wait_for_request(fresh=False)

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge

    def send_400_response(self, msg: str) -> None:
        self._bad_request()


def protocol_class(server: ServerSettings, kind: HttpKind = "auto") -> type[asyncio.Protocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``server``'s limits."""
    base: type[_Bounded] = RelayH11Protocol if kind == "h11" else RelayHttpToolsProtocol
    limits = {"header_timeout": server.header_timeout_seconds, "max_header_bytes": server.max_header_bytes}
    bound: type[asyncio.Protocol] = type(base.__name__, (base,), limits)
    return bound


def uvicorn_config(
    app: Any,
    server: ServerSettings,
    *,
    host: str,
    port: int,
    http: HttpKind = "auto",
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> uvicorn.Config:
    """uvicorn's configuration for the relay: its limits, no proxy-header rewriting (the relay resolves
    proxies itself, through ``server.trusted_proxies``), no access log, no ``server`` header."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(server, http),
        ws="none",
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=server.keep_alive_seconds,
        h11_max_incomplete_event_size=server.max_header_bytes,
    )
