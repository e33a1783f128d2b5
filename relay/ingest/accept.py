"""Accepting a batch of raw events: prepare each, store the good ones durably, report the bad ones.

Framework-free: the answer is an :class:`Outcome` (status, JSON body, cookies) that each HTTP handler
translates into its own response."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relay.exceptions import StorageError
from relay.http.responses import STATUS
from relay.ingest.identity import CookieSpec
from relay.ingest.intake import Intake
from relay.ingest.pipeline import Prepared, RequestContext
from relay.storage.outbox import StoreResult

log = logging.getLogger("relay.ingest")


@dataclass
class Outcome:
    """The answer to a batch: ``stored`` when at least one event is durable (then ``cookies`` apply)."""

    status: int
    body: dict[str, Any]
    stored: bool = False
    cookies: list[CookieSpec] = field(default_factory=list)


def failure(code: str, detail: str, **extra: Any) -> Outcome:
    """An error answer in the contract's shape (CONTRACT §3)."""
    return Outcome(STATUS[code], {"error": code, "detail": detail, **extra})


async def accept(
    intake: Intake, items: Sequence[Any], ctx: RequestContext, *, plain: bool = False
) -> Outcome:
    """Prepare, store (durably) and answer 202 / 400 invalid_event / 503 storage_unavailable; ``plain``
    as for :meth:`relay.ingest.pipeline.Ingestor.prepare_batch`."""
    m = intake.counters
    batch = intake.ingestor.prepare_batch(items, ctx, plain=plain)
    prepared, rejected = batch.prepared, batch.rejected
    if not prepared:
        return _none_valid(intake, rejected)
    try:
        stored = await intake.writer.submit([p.event for _, p in prepared])
    except StorageError as exc:
        m("events_rejected", "storage").inc(len(prepared))
        if rejected:
            m("events_rejected", "invalid_event").inc(len(rejected))
        log.error("storage unavailable", extra={"error": exc.message, "events": len(prepared)})
        return failure("storage_unavailable", "the event could not be stored; retry")
    kept: list[tuple[Prepared, StoreResult]] = []
    for (index, p), result in zip(prepared, stored, strict=True):
        if result.rejected is None:
            kept.append((p, result))
        else:  # the event's own data could not be stored; the others are
            rejected.append({"index": index, "error": result.rejected})
    rejected.sort(key=lambda r: int(r["index"]))
    if not kept:
        return _none_valid(intake, rejected)
    if rejected:
        m("events_rejected", "invalid_event").inc(len(rejected))
    m("events_received", ctx.source).inc(len(kept))
    for p, result in kept:
        for d in () if result.duplicate else p.event.deliveries:
            m("deliveries", d.connector, d.status).inc()
    return Outcome(202, {"accepted": len(kept), "rejected": rejected}, True, batch.cookies)


def _none_valid(intake: Intake, rejected: list[dict[str, Any]]) -> Outcome:
    intake.counters("events_rejected", "invalid_event").inc(len(rejected))
    return failure("invalid_event", "no event in the body was valid", accepted=0, rejected=rejected)
