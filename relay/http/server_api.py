"""Server-to-server endpoints, called by the user's backend with an API key."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.http.body import BodyError, check_media, parse_events, read_body
from relay.http.browser import geo_headers
from relay.http.responses import error
from relay.ingest.accept import accept
from relay.ingest.intake import Intake
from relay.ingest.pipeline import RequestContext
from relay.text import plain_json


async def post_events(request: Request) -> Response:
    """``POST /v1/events``: like ``/v1/collect`` but authenticated, with ip and user agent from the body."""
    intake: Intake = request.app.state.intake
    if not intake.credentials.api_key_ok(request):
        intake.counters("events_rejected", "unauthorized").inc()
        return error("unauthorized", "send Authorization: Bearer <one of server.api_keys>")
    server = intake.server
    try:
        check_media(request.headers.get("content-type"), request.headers.get("content-encoding"))
        body = await read_body(request, server.max_body_bytes, server.body_timeout_seconds)
        items = parse_events(body, server)
    except BodyError as exc:
        intake.counters("events_rejected", exc.reason).inc(exc.count)
        return exc.response
    peer = request.client.host if request.client else None
    country, region = geo_headers(intake, peer, request.headers)
    ctx = RequestContext(source="events", now=time.time(), country=country, region_code=region)
    outcome = await accept(intake, items, ctx, plain=plain_json(body))
    return JSONResponse(outcome.body, outcome.status)
