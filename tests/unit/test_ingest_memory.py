"""The ingest path on the in-memory outbox: the pipeline prepares, the group-commit writer stores, and
what is stored (fan-out, consent, dedup, the trust rule) is read back from the outbox; no database."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from relay.config import parse_settings
from relay.ingest.pipeline import Ingestor, RequestContext
from relay.ingest.writer import GroupCommitWriter
from relay.metrics import Metrics
from relay.state import build_connectors
from relay.storage.memory import MemoryOutbox
from relay.storage.outbox import StoreResult
from relay.types import DeliveryStatus

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

CONFIG = {
    "server": {"api_keys": ["k" * 20], "admin_token": "t" * 20, "default_country": "US"},
    "connectors": {
        "meta": {"type": "meta", "pixel_id": "1234567890", "access_token": "token"},
        "x": {
            "type": "x",
            "pixel_id": "o8z6j",
            "event_tags": {"Purchase": "o87ne"},
            "consumer_key": "ck",
            "consumer_secret": "cs",
            "access_token": "at",
            "access_token_secret": "ats",
        },
    },
}


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[Ingestor, GroupCommitWriter, MemoryOutbox]]:
    settings = parse_settings(CONFIG)
    box = MemoryOutbox()
    writer = GroupCommitWriter(box)
    async with httpx.AsyncClient() as client:
        writer.start()
        try:
            yield Ingestor(settings, build_connectors(settings, client), Metrics()), writer, box
        finally:
            await writer.aclose()


async def submit(
    ingest: tuple[Ingestor, GroupCommitWriter, MemoryOutbox],
    items: Sequence[Any],
    source: str = "events",
    **ctx: Any,
) -> tuple[list[StoreResult], list[dict[str, Any]]]:
    ingestor, writer, _ = ingest
    ctx = {"country": "US", **ctx}  # the US default: allow
    context = RequestContext(
        source=source, now=time.time(), ip="203.0.113.9", user_agent="Mozilla/5.0", **ctx
    )
    batch = ingestor.prepare_batch(items, context)
    return await writer.submit([p.event for _, p in batch.prepared]), batch.rejected


def purchase(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/done",
        "user": {"email": " Jane@Example.com "},
        "custom": {"value": 12.5, "currency": "EUR"},
        **extra,
    }


async def test_a_valid_event_is_stored_with_one_delivery_per_connector(ingest: Any) -> None:
    _, _, box = ingest
    results, rejected = await submit(ingest, [purchase("o-1"), 42])
    assert [r.duplicate for r in results] == [False] and rejected and rejected[0]["index"] == 1
    [stored] = box.events.values()
    assert stored["event_id"] == "o-1" and stored["source"] == "events"
    assert stored["hashed"]["em"] == [hashlib.sha256(b"jane@example.com").hexdigest()]
    assert stored["custom"] == {"value": 12.5, "currency": "EUR"}
    deliveries = box.of_event("o-1")
    assert sorted(d.connector for d in deliveries) == ["meta", "x"]
    assert all(d.status is DeliveryStatus.PENDING for d in deliveries)


async def test_consent_refused_stores_skipped_deliveries_without_identifiers(ingest: Any) -> None:
    _, _, box = ingest
    await submit(ingest, [purchase("o-2")], country="DE")  # the EU default: deny
    deliveries = box.of_event("o-2")
    assert deliveries and all(d.status is DeliveryStatus.SKIPPED for d in deliveries)
    [stored] = box.events.values()
    assert stored["hashed"] == {} and stored["ip"] is None


async def test_concurrent_submissions_share_a_group_and_dedup_holds(ingest: Any) -> None:
    _, _, box = ingest
    answers = await asyncio.gather(*(submit(ingest, [purchase(f"o-{i % 5}")]) for i in range(20)))
    results = [r for stored, _ in answers for r in stored]
    assert len(results) == 20 and sum(not r.duplicate for r in results) == 5
    assert len(box.events) == 5 and len(box.deliveries) == 10


async def test_a_browser_copy_after_the_server_event_only_adds_browser_identifiers(ingest: Any) -> None:
    _, _, box = ingest
    await submit(ingest, [purchase("o-3")])
    browser = purchase("o-3", custom={"value": 0.01, "currency": "USD"}, user={"fbp": "fb.1.1.123"})
    [result], _ = await submit(ingest, [browser], source="collect")
    assert result.duplicate
    [stored] = box.events.values()
    assert stored["custom"] == {"value": 12.5, "currency": "EUR"} and stored["source"] == "events"
    assert stored["ids"].get("fbp") == "fb.1.1.123"


async def test_a_plugin_skip_reason_that_raises_costs_no_other_connector(
    ingest: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A connector's ``skip_reason`` failing (a plugin's bug) keeps the event for every connector: its
    own delivery stays pending (the worker fails it alone, replayable), the others are unaffected; the
    bug is logged once, not once per event."""
    ingestor, _, box = ingest

    def broken(event_name: str) -> str | None:
        raise KeyError(event_name)

    monkeypatch.setattr(ingestor.connectors["x"], "skip_reason", broken)
    results, rejected = await submit(ingest, [purchase("o-1"), purchase("o-2")])
    assert rejected == [] and [r.duplicate for r in results] == [False, False]
    for event_id in ("o-1", "o-2"):
        deliveries = {d.connector: d for d in box.of_event(event_id)}
        assert deliveries["meta"].status is deliveries["x"].status is DeliveryStatus.PENDING
    failures = [r for r in caplog.records if "skip_reason failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
