"""Server-to-server endpoints, called by the user's backend with an API key."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from relay.ingest.accept import accept
from relay.ingest.body import BodyError, read_events
from relay.ingest.browser import geo_headers
from relay.ingest.pipeline import RequestContext
from relay.responses import error
from relay.state import RelayState


async def post_events(request: Request) -> Response:
    """``POST /v1/events``: like ``/v1/collect`` but authenticated, with ip and user agent from the body."""
    relay: RelayState = request.app.state.relay
    if not relay.credentials.api_key_ok(request):
        relay.metrics.events_rejected.labels("unauthorized").inc()
        return error("unauthorized", "send Authorization: Bearer <one of server.api_keys>")
    try:
        items = await read_events(request, relay)
    except BodyError as exc:
        return exc.response
    country, region = geo_headers(request, relay)
    ctx = RequestContext(source="events", now=time.time(), country=country, region_code=region)
    return (await accept(relay, items, ctx)).response
