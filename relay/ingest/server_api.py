"""Server-to-server endpoints, called by the user's backend with an API key."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from relay.ingest.accept import accept
from relay.ingest.body import BodyError, event_list, read_json
from relay.ingest.pipeline import RequestContext
from relay.responses import error
from relay.state import RelayState


async def post_events(request: Request) -> Response:
    """``POST /v1/events``: like ``/v1/collect`` but authenticated, with ip and user agent from the body."""
    relay: RelayState = request.app.state.relay
    if not relay.credentials.api_key_ok(request):
        relay.metrics.events_rejected.labels("unauthorized").inc()
        return error("unauthorized", "send Authorization: Bearer <one of server.api_keys>")
    server = relay.settings.server
    try:
        body = await read_json(request, server.max_body_bytes)
    except BodyError as exc:
        relay.metrics.events_rejected.labels(exc.reason).inc()
        return exc.response
    items = event_list(body)
    if items is None:
        relay.metrics.events_rejected.labels("invalid_event").inc()
        return error("invalid_event", 'send one event object or {"events": [...]}', accepted=0, rejected=[])
    if len(items) > server.max_batch:
        relay.metrics.events_rejected.labels("too_many_events").inc(len(items))
        return error("too_many_events", f"at most {server.max_batch} events per request (server.max_batch)")
    country = request.headers.get(server.country_header) if server.country_header else None
    region = request.headers.get(server.region_header) if server.region_header else None
    ctx = RequestContext(source="events", now=time.time(), country=country, region_code=region)
    return (await accept(relay, items, ctx)).response
