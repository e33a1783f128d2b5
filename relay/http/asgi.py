"""Raw ASGI plumbing for the hot endpoints: the request head read once, answers sent without a
``Request`` or ``Response`` object on the success path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope, Send

from relay.http.middleware import COMMON_HEADERS
from relay.ingest.identity import FIRST_PARTY_COOKIES, CookieSpec

RawHeaders = list[tuple[bytes, bytes]]
#: what every answer carries (``relay.http.middleware.SecurityHeadersMiddleware`` adds it to the others)
SECURITY_HEADERS: RawHeaders = [(k.encode(), v.encode()) for k, v in COMMON_HEADERS.items()]
JSON_TYPE = (b"content-type", b"application/json")


def head(scope: Scope) -> dict[str, str]:
    """The request headers by lower-case name; the first of repeated headers wins (as in Starlette)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


def peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def first_party_cookies(headers: Mapping[str, str]) -> dict[str, str]:
    """The relay's own cookies the request carried (nothing else of the Cookie header is kept)."""
    raw = headers.get("cookie")
    if not raw:
        return {}
    cookies = cookie_parser(raw)
    return {name: value for name in FIRST_PARTY_COOKIES if (value := cookies.get(name))}


def encode(headers: Mapping[str, str]) -> RawHeaders:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def cookie_headers(specs: Iterable[CookieSpec], domain: str | None) -> RawHeaders:
    """``Set-Cookie`` headers (CONTRACT §6 attributes), rendered by Starlette so values are quoted alike."""
    specs = list(specs)
    if not specs:
        return []
    response = Response()
    for spec in specs:
        response.set_cookie(
            spec.name,
            spec.value,
            max_age=spec.max_age,
            path="/",
            domain=domain,
            secure=True,
            httponly=spec.httponly,
            samesite="lax",
        )
    return [(k, v) for k, v in response.raw_headers if k == b"set-cookie"]


async def send_bytes(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, body: Any, headers: RawHeaders) -> None:
    await send_bytes(send, status, [JSON_TYPE, *SECURITY_HEADERS, *headers], orjson.dumps(body))
