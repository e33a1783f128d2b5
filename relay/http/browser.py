"""First-party browser endpoints: `POST /v1/collect` (fetch, sendBeacon) and `GET /p.gif` as raw ASGI
handlers (the hot path: no ``Request``, no middleware stack), the collect preflight and `GET /pixel.js`.

They translate HTTP in and out; what an event means, identity and cookies included, is the pipeline's."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from relay.http import asgi
from relay.http.body import BodyError, check_declared, check_media, parse_events, receive_body
from relay.http.responses import STATUS, error
from relay.ingest.accept import accept
from relay.ingest.intake import Intake
from relay.ingest.pipeline import RequestContext
from relay.settings import ServerSettings
from relay.text import parse_number, plain_json

log = logging.getLogger("relay.ingest")
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
GIF_HEADERS: asgi.RawHeaders = [
    (b"content-type", b"image/gif"),
    (b"cache-control", b"no-store, max-age=0"),
    (b"pragma", b"no-cache"),
    *asgi.SECURITY_HEADERS,
]
SNIPPET = Path(__file__).parent.parent / "ingest" / "snippet" / "pixel.js"
#: query parameters that would carry contact details: never accepted in a URL
CONTACT_PARAMS = frozenset(
    {"email", "em", "e", "phone", "ph", "fn", "ln", "first_name", "last_name", "name", "user_email", "tel"}
)


def context(intake: Intake, scope: Scope, headers: Mapping[str, str], source: str) -> RequestContext:
    """What the request says about the visitor: IP through trusted proxies, cookies, GPC, place."""
    client = asgi.peer(scope)
    country, region = geo_headers(intake, client, headers)
    return RequestContext(
        source=source,
        now=time.time(),
        ip=intake.proxies.client_ip(client, headers.get("x-forwarded-for")),
        user_agent=headers.get("user-agent"),
        country=country,
        region_code=region,
        gpc=headers.get("sec-gpc", "").strip() == "1",
        cookies=asgi.first_party_cookies(headers),
    )


def geo_headers(
    intake: Intake, peer: str | None, headers: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The visitor's country and region from ``server.country_header`` / ``server.region_header``,
    believed only from a peer in ``server.trusted_proxies`` (anyone can send them); with no trusted
    proxies configured they are believed from every peer, the relay sitting directly behind a CDN
    (``relay check`` warns about it)."""
    server = intake.server
    if intake.proxies.networks and not intake.proxies.trusts(peer):
        return None, None
    country = headers.get(server.country_header.lower()) if server.country_header else None
    region = headers.get(server.region_header.lower()) if server.region_header else None
    return country, region


def cors_headers(server: ServerSettings, origin: str | None) -> dict[str, str] | None:
    """CORS headers for an allowed Origin; {} without Origin; None for a refused Origin."""
    if origin is None:
        return {}
    if origin not in server.allowed_origins:
        return None
    return {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "vary": "Origin",
    }


async def collect_preflight(request: Request) -> Response:
    server: ServerSettings = request.app.state.settings.server
    cors = cors_headers(server, request.headers.get("origin"))
    if cors is None:
        return error("origin_not_allowed", "this origin is not in server.allowed_origins")
    cors.update(
        {
            "access-control-allow-methods": "POST, OPTIONS",
            "access-control-allow-headers": "content-type",
            "access-control-max-age": "86400",
        }
    )
    return Response(status_code=204, headers=cors)


async def collect(intake: Intake, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /v1/collect``: 202 with the accepted count and the rejected events, or the contract's error."""
    headers = asgi.head(scope)
    server = intake.server
    cors = cors_headers(server, headers.get("origin"))
    if cors is None:
        intake.counters("events_rejected", "origin_not_allowed").inc()
        detail = "this origin is not in server.allowed_origins"
        await asgi.send_json(send, 403, {"error": "origin_not_allowed", "detail": detail}, [])
        return
    extra = asgi.encode(cors)
    try:
        check_media(headers.get("content-type"), headers.get("content-encoding"))
        check_declared(headers.get("content-length"), server.max_body_bytes)
        body = await receive_body(receive, server.max_body_bytes, server.body_timeout_seconds)
        items = parse_events(body, server)
    except BodyError as exc:
        intake.counters("events_rejected", exc.reason).inc(exc.count)
        await _refuse(send, exc, extra)
        return
    ctx = context(intake, scope, headers, "collect")
    outcome = await accept(intake, items, ctx, plain=plain_json(body))
    if outcome.stored:
        try:
            extra += asgi.cookie_headers(outcome.cookies, server.cookie_domain)
        except Exception:  # a bug: the events are stored, so the answer stays their 202 (without cookies)
            log.exception("first-party cookies could not be set")
    await asgi.send_json(send, outcome.status, outcome.body, extra)


async def _refuse(send: Send, exc: BodyError, headers: asgi.RawHeaders) -> None:
    if exc.close:
        headers = [*headers, (b"connection", b"close")]
    body = {"error": exc.code, "detail": exc.detail, **exc.extra}
    await asgi.send_json(send, STATUS[exc.code], body, headers)


async def pixel_gif(intake: Intake, scope: Scope, receive: Receive, send: Send) -> None:
    """Always a 1x1 GIF; the 200 is not an acknowledgement (failures are counted, never shown)."""
    cookies: asgi.RawHeaders = []
    try:
        params = QueryParams(scope["query_string"])
        if any(key.lower() in CONTACT_PARAMS for key in params):
            intake.counters("events_rejected", "invalid_event").inc()
        else:
            headers = asgi.head(scope)
            ctx = context(intake, scope, headers, "gif")
            outcome = await accept(intake, [gif_event(params, headers.get("referer"))], ctx)
            if outcome.stored:
                cookies = asgi.cookie_headers(outcome.cookies, intake.server.cookie_domain)
    except Exception:  # a bug: logged; the page still gets its image
        log.exception("pixel hit could not be processed (a bug)")
    await asgi.send_bytes(send, 200, [*GIF_HEADERS, *cookies], GIF)


def gif_event(params: Mapping[str, str], referer: str | None) -> dict[str, Any]:
    """The event object of a ``/p.gif`` hit (CONTRACT §4.2)."""
    event: dict[str, Any] = {"event_name": params.get("ev", "")}
    if params.get("eid"):
        event["event_id"] = params["eid"]
    url = params.get("url") or referer
    if url:
        event["event_source_url"] = url
    if params.get("ref"):
        event["referrer_url"] = params["ref"]
    custom: dict[str, Any] = {}
    if params.get("value"):
        custom["value"] = _number(params["value"])
    for key in ("currency", "order_id"):
        if params.get(key):
            custom[key] = params[key]
    if params.get("ids"):
        custom["content_ids"] = [i.strip() for i in params["ids"].split(",") if i.strip()]
    if custom:
        event["custom"] = custom
    if params.get("xid"):
        event["user"] = {"external_id": params["xid"]}
    consent: dict[str, Any] = {k: params[k] for k in ("tcf", "gpp", "gpp_sid", "usp", "gcs") if params.get(k)}
    if consent:
        event["consent"] = consent
    return event


def _number(text: str) -> float | str:
    # ASCII digits only (float() also reads "١٢" or "1_000"); anything else is refused at validation
    number = parse_number(text)
    return text if number is None else number


async def pixel_js(request: Request) -> Response:
    try:
        script = SNIPPET.read_bytes()
    except OSError:
        return error("not_found", "pixel.js is not built")
    return Response(
        script,
        media_type="application/javascript; charset=utf-8",
        headers={"cache-control": "public, max-age=3600"},
    )
