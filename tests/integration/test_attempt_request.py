"""The request of each attempt stored on a real database (SQLite and PostgreSQL) and read back by the
event trace: masked like the answer next to it, cut to the same limit, one per attempt."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from connectors.base import MAX_TEXT
from connectors.meta import MetaConnector, MetaSettings
from relay.delivery.worker import Worker
from relay.metrics import Metrics
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.settings import DeliverySettings
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import NewDelivery, NewEvent, SqlOutbox, attempts_t
from relay.testing import serve

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOKEN = "EAAB7q0c91d4f2a8b6e3c5d7f9a1b3c5d7e9f"
FAST = DeliverySettings(poll_interval_ms=10, backoff_base_seconds=0.01, backoff_max_seconds=0.02)


def event(event_id: str) -> NewEvent:
    now = time.time()
    delivery = NewDelivery("meta", "pending", "allow", "allowed")
    return NewEvent(
        event_id, "Purchase", int(now), now, "website", "events", deliveries=[delivery],
        event_source_url="https://shop.example/checkout", user_agent="Mozilla/5.0 (test)", ip="203.0.113.9",
        hashed={"em": ["a" * 64]}, custom={"value": 10, "currency": "EUR"},
    )  # fmt: skip


async def deliver(db: Database, fake: FakeMeta, runs: int) -> None:
    async with serve(fake.app) as base, httpx.AsyncClient(timeout=10) as client:
        block = {"type": "meta", "pixel_id": "123", "access_token": TOKEN, "api_base": base}
        connector = MetaConnector("meta", MetaSettings.model_validate(block), client)
        worker = Worker(SqlOutbox(db), {"meta": connector}, FAST, Metrics())
        deadline = time.monotonic() + 10
        while runs > 0 and time.monotonic() < deadline:
            runs -= await worker.run_once("meta")  # 0 during a retry's backoff (at most 20 ms)


async def test_each_attempt_stores_its_request_masked(db: Database) -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(status=503, body=f"upstream down, token {TOKEN}"))
    outbox.store_events(db.engine, [event("order-1"), event("order-2")], time.time())
    await deliver(db, fake, runs=4)  # 503 for the batch of two, then each delivered
    with db.engine.connect() as conn:
        columns = select(attempts_t.c.request, attempts_t.c.response)
        rows = conn.execute(columns.order_by(attempts_t.c.id)).all()
    assert len(rows) == 4  # two events, two attempts each
    for request, response in rows:
        assert request.startswith("POST http://127.0.0.1:") and "/123/events?access_token=***" in request
        assert TOKEN not in request and TOKEN not in (response or "") and len(request) <= MAX_TEXT
        assert '"data":[{"event_name":"Purchase"' in request
    # the first batch carried both: each event's attempt shows the same request with its own item
    assert all('"... 1 more"' in request for request, _ in rows[:2])
    assert sorted('"event_id":"order-1"' in request for request, _ in rows[:2]) == [False, True]
    assert sorted('"event_id":"order-2"' in request for request, _ in rows[:2]) == [False, True]
    [trace] = queries.event_trace(db.engine, "order-2")
    log = trace["deliveries"][0]["attempt_log"]
    assert [a["outcome"] for a in log] == ["retryable", "delivered"]
    assert log[0]["request"] in (rows[0][0], rows[1][0]) and log[1]["request"] in (rows[2][0], rows[3][0])
    assert all('"event_id":"order-2"' in a["request"] for a in log)
    assert "***" in (log[0]["response"] or "")


async def test_a_skipped_event_has_no_request(db: Database) -> None:
    fake = FakeMeta(access_token=TOKEN)
    skipped = event("order-3")
    skipped.deliveries[0] = NewDelivery("meta", "pending", "deny", "denied for the test")
    outbox.store_events(db.engine, [skipped], time.time())
    await deliver(db, fake, runs=1)
    [trace] = queries.event_trace(db.engine, "order-3")
    [attempt] = trace["deliveries"][0]["attempt_log"]
    assert attempt["outcome"] == "skipped" and attempt["request"] is None and fake.requests == []
