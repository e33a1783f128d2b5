"""First-party browser endpoints: `POST /v1/collect` (fetch, sendBeacon), `GET /p.gif`, `GET /pixel.js`."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from relay.ingest.accept import accept
from relay.ingest.body import BodyError, read_events
from relay.ingest.identity import FIRST_PARTY_COOKIES, CookieSpec, cookies_to_set
from relay.ingest.pipeline import Prepared, RequestContext
from relay.responses import error
from relay.state import RelayState
from relay.text import parse_number

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
SNIPPET = Path(__file__).parent / "snippet" / "pixel.js"
#: query parameters that would carry contact details: never accepted in a URL
CONTACT_PARAMS = frozenset(
    {"email", "em", "e", "phone", "ph", "fn", "ln", "first_name", "last_name", "name", "user_email", "tel"}
)


def context(request: Request, relay: RelayState, source: str) -> RequestContext:
    headers = request.headers
    peer = request.client.host if request.client else None
    cookies = {name: value for name in FIRST_PARTY_COOKIES if (value := request.cookies.get(name))}
    country, region = geo_headers(request, relay)
    return RequestContext(
        source=source,
        now=time.time(),
        ip=relay.proxies.client_ip(peer, headers.get("x-forwarded-for")),
        user_agent=headers.get("user-agent"),
        country=country,
        region_code=region,
        gpc=headers.get("sec-gpc", "").strip() == "1",
        cookies=cookies,
    )


def geo_headers(request: Request, relay: RelayState) -> tuple[str | None, str | None]:
    """The visitor's country and region from ``server.country_header`` / ``server.region_header``,
    believed only from a peer in ``server.trusted_proxies`` (anyone can send them); with no trusted
    proxies configured they are believed from every peer, the relay sitting directly behind a CDN
    (``relay check`` warns about it)."""
    server = relay.settings.server
    peer = request.client.host if request.client else None
    if relay.proxies.networks and not relay.proxies.trusts(peer):
        return None, None
    headers = request.headers
    country = headers.get(server.country_header) if server.country_header else None
    region = headers.get(server.region_header) if server.region_header else None
    return country, region


def _cors_headers(request: Request, relay: RelayState) -> dict[str, str] | None:
    """CORS headers for an allowed Origin; {} without Origin; None for a refused Origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    if origin not in relay.settings.server.allowed_origins:
        return None
    return {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "vary": "Origin",
    }


async def collect_preflight(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    cors = _cors_headers(request, relay)
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


async def collect(request: Request) -> Response:
    relay: RelayState = request.app.state.relay
    cors = _cors_headers(request, relay)
    if cors is None:
        relay.metrics.events_rejected.labels("origin_not_allowed").inc()
        return error("origin_not_allowed", "this origin is not in server.allowed_origins")
    try:
        items = await read_events(request, relay)
    except BodyError as exc:
        return _with(exc.response, cors)
    ctx = context(request, relay, "collect")
    result = await accept(relay, items, ctx, before_store=lambda p: _mint_cookies(p, ctx))
    response = _with(result.response, cors)
    if result.stored:
        _set_cookies(response, relay, result.cookies)
    return response


def _mint_cookies(prepared: list[Prepared], ctx: RequestContext) -> list[CookieSpec]:
    """Cookies this answer sets (only when every event allows storage); a new ``_fbp`` also goes
    into the events, so the first hit of a visit already carries it."""
    if not prepared or not all(p.storage_allowed for p in prepared):
        return []
    ids: dict[str, str] = {}
    for p in prepared:
        ids.update({k: v for k, v in p.event.ids.items() if k in ("fbc", "twclid", "ttclid", "fbp")})
    specs = cookies_to_set(ctx.cookies, ids, ctx.now)
    for spec in specs:
        if spec.name == "_fbp":
            for p in prepared:
                if p.event.ids or p.event.hashed or any(d.status == "pending" for d in p.event.deliveries):
                    p.event.ids.setdefault("fbp", spec.value)
    return specs


def _set_cookies(response: Response, relay: RelayState, specs: list[CookieSpec]) -> None:
    domain = relay.settings.server.cookie_domain
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


def _with(response: Response, headers: Mapping[str, str]) -> Response:
    response.headers.update(headers)
    return response


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


async def pixel_gif(request: Request) -> Response:
    """Always a 1x1 GIF; the 200 is not an acknowledgement (failures are counted, never shown)."""
    relay: RelayState = request.app.state.relay
    params = request.query_params
    headers = {"cache-control": "no-store, max-age=0", "pragma": "no-cache"}
    if any(key.lower() in CONTACT_PARAMS for key in params):
        relay.metrics.events_rejected.labels("invalid_event").inc()
        return Response(GIF, media_type="image/gif", headers=headers)
    ctx = context(request, relay, "gif")
    event = gif_event(params, request.headers.get("referer"))
    result = await accept(relay, [event], ctx, before_store=lambda p: _mint_cookies(p, ctx))
    response = Response(GIF, media_type="image/gif", headers=headers)
    if result.stored:
        _set_cookies(response, relay, result.cookies)
    return response


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
