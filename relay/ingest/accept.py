"""Accepting a batch of raw events: prepare each, store the good ones durably, report the bad ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from relay.events import EventError
from relay.exceptions import StorageError
from relay.ingest.identity import CookieSpec
from relay.ingest.pipeline import Prepared, RequestContext
from relay.responses import error
from relay.state import RelayState
from relay.storage.outbox import StoreResult

log = logging.getLogger("relay.ingest")

BeforeStore = Callable[[list[Prepared]], list[CookieSpec]]


@dataclass
class BatchResult:
    response: Response
    stored: bool = False
    rejected: list[dict[str, Any]] = field(default_factory=list)
    cookies: list[CookieSpec] = field(default_factory=list)


async def accept(
    relay: RelayState, items: Sequence[Any], ctx: RequestContext, before_store: BeforeStore | None = None
) -> BatchResult:
    """Prepare, store (durably) and answer 202 / 400 invalid_event / 503 storage_unavailable."""
    m = relay.metrics
    prepared: list[tuple[int, Prepared]] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        try:
            prepared.append((index, relay.ingestor.prepare(raw, ctx)))
        except EventError as exc:
            rejected.append({"index": index, "error": str(exc)})
        except Exception:  # a bug must cost this event only, never the request
            log.exception("event could not be processed (a bug)", extra={"index": index})
            rejected.append({"index": index, "error": "could not be processed"})
    if not prepared:
        return _none_valid(relay, rejected)
    cookies = before_store([p for _, p in prepared]) if before_store else []
    try:
        stored = await relay.writer.submit([p.event for _, p in prepared])
    except StorageError as exc:
        m.events_rejected.labels("storage").inc(len(prepared))
        if rejected:
            m.events_rejected.labels("invalid_event").inc(len(rejected))
        log.error("storage unavailable", extra={"error": exc.message, "events": len(prepared)})
        return BatchResult(
            error("storage_unavailable", "the event could not be stored; retry"), rejected=rejected
        )
    kept: list[tuple[Prepared, StoreResult]] = []
    for (index, p), result in zip(prepared, stored, strict=True):
        if result.rejected is None:
            kept.append((p, result))
        else:  # the event's own data could not be stored; the others are
            rejected.append({"index": index, "error": result.rejected})
    rejected.sort(key=lambda r: int(r["index"]))
    if not kept:
        return _none_valid(relay, rejected)
    if rejected:
        m.events_rejected.labels("invalid_event").inc(len(rejected))
    m.events_received.labels(ctx.source).inc(len(kept))
    for p, result in kept:
        for d in () if result.duplicate else p.event.deliveries:
            m.deliveries.labels(d.connector, d.status).inc()
    response = JSONResponse({"accepted": len(kept), "rejected": rejected}, status_code=202)
    return BatchResult(response, True, rejected, cookies)


def _none_valid(relay: RelayState, rejected: list[dict[str, Any]]) -> BatchResult:
    relay.metrics.events_rejected.labels("invalid_event").inc(len(rejected))
    body = error("invalid_event", "no event in the body was valid", accepted=0, rejected=rejected)
    return BatchResult(body, rejected=rejected)
