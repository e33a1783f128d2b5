"""The worker on a real database: a failure stays with its event, leases outlive slow platforms,
a cancelled worker records what it sent, and stored platform answers never carry a secret."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import select

from connectors.base import MAX_TEXT, BaseConnector
from connectors.meta import MetaConnector, MetaSettings
from connectors.x import XConnector, XSettings
from relay.delivery.worker import Worker
from relay.exceptions import AuthRejectedError
from relay.metrics import Metrics
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.settings import ConnectorSettings, DeliverySettings
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import Completion, NewDelivery, NewEvent, SqlOutbox, attempts_t
from relay.storage.queries import DeliveryFilter
from relay.testing import serve
from relay.types import AttemptOutcome, Delivered, DeliveryStatus, OutboundEvent, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOKEN = "EAAB7q0c91d4f2a8b6e3c5d7f9a1b3c5d7e9f"
FAST = DeliverySettings(poll_interval_ms=10, backoff_base_seconds=0.01, backoff_max_seconds=0.02)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def make_event(event_id: str, connector: str, **fields: Any) -> NewEvent:
    now = time.time()
    values: dict[str, Any] = {
        "event_source_url": "https://shop.example/checkout",
        "user_agent": "Mozilla/5.0 (test)",
        "ip": "203.0.113.9",
        "hashed": {"em": [sha(f"{event_id}@example.com")]},
        "custom": {"value": 10, "currency": "EUR"},
        **fields,
    }
    delivery = NewDelivery(connector, "pending", "allow", "allowed")
    return NewEvent(event_id, "Purchase", int(now), now, "website", "events", deliveries=[delivery], **values)


def store(db: Database, events: Sequence[NewEvent]) -> None:
    outbox.store_events(db.engine, events, time.time())


def deliveries(db: Database) -> dict[str, dict[str, Any]]:
    return {d["event_id"]: d for d in queries.list_deliveries(db.engine, DeliveryFilter(limit=10_000))}


def stored_texts(db: Database) -> list[str]:
    """Every text the worker stored from a platform answer: last errors and attempt responses."""
    with db.engine.connect() as conn:
        responses = [r for (r,) in conn.execute(select(attempts_t.c.response)) if r]
    return responses + [d["last_error"] for d in deliveries(db).values() if d["last_error"]]


def leaks(secret: str, texts: Sequence[str], window: int = 6) -> list[str]:
    """Texts holding any ``window`` characters of ``secret`` in a row (a secret cut, then masked)."""
    parts = {secret[i : i + window] for i in range(len(secret) - window + 1)}
    return [t for t in texts if any(p in t for p in parts)]


async def run_until(workers: Sequence[Worker], done: Any, timeout: float = 20.0) -> None:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)


# -- a failure stays with its event


class BuggyConnector(BaseConnector[ConnectorSettings]):
    """A careless plugin: its batch size breaks once, ``deliver`` raises on any batch holding a bad event."""

    type_name = "buggy"
    bad: ClassVar[frozenset[str]] = frozenset({"bad-1", "bad-2"})

    def __init__(self, client: httpx.AsyncClient, *, drop: bool = False) -> None:
        super().__init__("buggy", ConnectorSettings(type="buggy", api_base="http://unused"), client)
        self.calls: list[int] = []
        self.sent: list[str] = []
        self.broken_batch_size = 1
        self.drop = drop  # answer no outcome for a bad event instead of raising

    @property
    def max_batch(self) -> int:
        if self.broken_batch_size:
            self.broken_batch_size -= 1
            raise RuntimeError("plugin bug in max_batch")
        return 1000

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        self.calls.append(len(events))
        if self.drop:
            good = [e for e in events if e.event_id not in self.bad]
            self.sent += [e.event_id for e in good]
            return [Delivered(200) for _ in good]
        if any(e.event_id in self.bad for e in events):
            raise KeyError(f"contents of jane.doe@example.com in {len(events)} events")
        self.sent += [e.event_id for e in events]
        return [Delivered(200) for _ in events]


@pytest.mark.parametrize("drop", [False, True], ids=["raises", "wrong-count"])
async def test_a_connector_bug_fails_only_its_event(db: Database, drop: bool) -> None:
    ids = [f"ok-{i}" for i in range(60)]
    ids[7], ids[44] = "bad-1", "bad-2"
    store(db, [make_event(i, "buggy") for i in ids])
    async with httpx.AsyncClient() as client:
        connector = BuggyConnector(client, drop=drop)
        worker = Worker(SqlOutbox(db), {"buggy": connector}, FAST, Metrics())
        await run_until([worker], lambda: len(connector.sent) >= 58)
    rows = deliveries(db)
    good = [i for i in ids if not i.startswith("bad")]
    # each good event sent on the first attempt (a wrong count may have sent some already: resent then)
    assert sorted(connector.sent if not drop else set(connector.sent)) == sorted(good)
    assert all(rows[i]["status"] == "delivered" and rows[i]["attempts"] == 1 for i in good)
    for bad in ("bad-1", "bad-2"):
        assert rows[bad]["status"] == "dead" and rows[bad]["attempts"] == 1
        expected = "ConnectorBugError: connector answered 0" if drop else "connector error: KeyError"
        assert expected in rows[bad]["last_error"]
        assert "jane.doe@example.com" not in rows[bad]["last_error"]  # contact details masked
    # bisected, not one by one; a call carries a whole claimed batch (the worker's two lanes may claim at
    # the same moment, and on PostgreSQL SKIP LOCKED then splits the 60 between them in any proportion)
    assert max(connector.calls) >= 30 and len(connector.calls) < 30


async def test_an_unreadable_stored_row_fails_alone(db: Database) -> None:
    store(
        db, [make_event(f"ok-{i}", "buggy") for i in range(5)] + [make_event("bad-row", "buggy", custom=[5])]
    )
    async with httpx.AsyncClient() as client:
        connector = BuggyConnector(client)
        worker = Worker(SqlOutbox(db), {"buggy": connector}, FAST, Metrics())
        await run_until([worker], lambda: len(connector.sent) >= 5)
    rows = deliveries(db)
    assert rows["bad-row"]["status"] == "dead"
    assert rows["bad-row"]["last_error"].startswith("cannot map event: TypeError")
    assert all(rows[f"ok-{i}"]["status"] == "delivered" for i in range(5))
    assert connector.calls == [5]


@pytest.mark.parametrize(
    "column, value",
    [
        ("event_time", "soon"),
        ("event_time", float("inf")),
        ("received_at", "yesterday"),
        ("received_at", b"\x00"),
        ("hashed", '"text"'),
        ("custom", "{not json"),
    ],
)
async def test_a_stored_row_of_the_wrong_type_fails_alone(tmp_path: Any, column: str, value: Any) -> None:
    """SQLite keeps any value in any column: a row written by hand (or by an old bug) with a text where
    a number belongs must fail alone, not break every claim of its connector (the batch would return
    with its lease and be claimed again, for ever)."""
    db = Database(f"sqlite:///{tmp_path / 'relay.db'}")
    db.migrate()
    try:
        store(db, [make_event(f"ok-{i}", "buggy") for i in range(5)] + [make_event("odd-row", "buggy")])
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE events SET {column} = ? WHERE event_id = 'odd-row'", (value,))
        async with httpx.AsyncClient() as client:
            connector = BuggyConnector(client)
            worker = Worker(SqlOutbox(db), {"buggy": connector}, FAST, Metrics())
            await run_until([worker], lambda: len(connector.sent) >= 5)
        with db.engine.connect() as conn:
            rows = dict(conn.exec_driver_sql(
                "SELECT d.id, d.status || ' ' || coalesce(d.last_error, '') FROM deliveries d"
            ).all())  # fmt: skip
        odd = [text for text in rows.values() if not text.startswith("delivered")]
        assert sorted(connector.sent) == [f"ok-{i}" for i in range(5)]
        assert len(odd) == 1 and odd[0].startswith("dead cannot map event: "), odd
    finally:
        db.close()


class WindowBugConnector(BuggyConnector):
    """A plugin whose acceptance window fails for one kind of event."""

    def acceptance_window(self, action_source: str) -> float:
        if action_source == "app":
            raise ValueError(f"no window for {action_source} events of jane.doe@example.com")
        return 7 * 86400.0


async def test_a_plugin_window_failing_on_one_event_fails_that_event_alone(db: Database) -> None:
    ok = [make_event(f"ok-{i}", "buggy") for i in range(5)]
    app = make_event("app-1", "buggy")
    app.action_source = "app"
    store(db, [*ok[:2], app, *ok[2:]])
    async with httpx.AsyncClient() as client:
        connector = WindowBugConnector(client)
        worker = Worker(SqlOutbox(db), {"buggy": connector}, FAST, Metrics())
        await run_until([worker], lambda: len(connector.sent) >= 5)
    rows = deliveries(db)
    assert sorted(connector.sent) == [f"ok-{i}" for i in range(5)]
    assert rows["app-1"]["status"] == "dead" and rows["app-1"]["attempts"] == 1
    assert rows["app-1"]["last_error"].startswith(
        "cannot compute its deadline: ValueError: no window for app"
    )
    assert "jane.doe@example.com" not in rows["app-1"]["last_error"]


class LockedOutConnector(BuggyConnector):
    """Raises on batches holding a bad event; alone, that event meets a revoked token."""

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        if len(events) == 1 and events[0].event_id in self.bad:
            raise AuthRejectedError("token revoked", status_code=401)
        return await super().deliver(events)


async def test_credentials_refused_while_isolating_pause_the_connector(db: Database) -> None:
    store(db, [make_event(i, "buggy") for i in ("bad-1", "ok-1", "ok-2", "ok-3")])
    async with httpx.AsyncClient() as client:
        connector = LockedOutConnector(client)
        connector.broken_batch_size = 0
        worker = Worker(SqlOutbox(db), {"buggy": connector}, FAST, Metrics())
        assert await worker.run_once("buggy") == 4
    rows = deliveries(db)
    assert connector.sent == []  # once the token is refused nothing more goes out
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows.values())
    states = queries.connector_states(db.engine)
    assert states["buggy"]["state"] == "paused"


# -- leases


def meta_events(count: int) -> list[NewEvent]:
    return [make_event(f"order-{i}", "meta") for i in range(count)]


@contextlib.asynccontextmanager
async def meta_connector(
    fake: FakeMeta, *, in_process: bool = False, **settings: Any
) -> AsyncIterator[MetaConnector]:
    """A Meta connector sending to ``fake`` over loopback HTTP (uvicorn); ``in_process``: through
    ``httpx.ASGITransport``, for tests of many retries rather than of the wire."""
    async with contextlib.AsyncExitStack() as stack:
        if in_process:
            base = "http://fake-meta.test"
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), timeout=10)
        else:
            base = await stack.enter_async_context(serve(fake.app))
            client = httpx.AsyncClient(timeout=10)
        await stack.enter_async_context(client)
        block = {"type": "meta", "pixel_id": "123", "access_token": TOKEN, "api_base": base, **settings}
        yield MetaConnector("meta", MetaSettings.model_validate(block), client)


async def test_a_slow_platform_gets_each_event_once_from_two_workers(db: Database) -> None:
    """The platform answers after three leases; the idle second worker must not take the batch over."""
    fake = FakeMeta(access_token=TOKEN)
    fake.script(*[ScriptedResponse(delay=1.8, passthrough=True) for _ in range(4)])
    store(db, meta_events(10))
    settings = FAST.model_copy(update={"lease_seconds": 0.6})
    async with meta_connector(fake) as connector:
        metrics = [Metrics(), Metrics()]
        workers = [Worker(SqlOutbox(db), {"meta": connector}, settings, m) for m in metrics]
        assert workers[0].worker_id != workers[1].worker_id
        await run_until(workers, lambda: len(fake.events) >= 10 and not _open(db), timeout=25)
    # both workers have returned (run_until awaits them): no send of theirs is still to come, and what
    # they attempted is on their counters: ten deliveries, each attempted once, by one of them
    attempts = [_attempts(m, outcome) for m in metrics for outcome in AttemptOutcome]
    assert sum(attempts) == 10 == sum(_attempts(m, AttemptOutcome.DELIVERED) for m in metrics)
    sent = [e["event_id"] for e in fake.events]
    assert sorted(sent) == sorted(f"order-{i}" for i in range(10)) and len(fake.requests) == 1
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in deliveries(db).values())


def _attempts(metrics: Metrics, outcome: AttemptOutcome) -> float:
    labels = {"connector": "meta", "outcome": outcome.value}
    return metrics.registry.get_sample_value("relay_delivery_attempts_total", labels) or 0.0


def _open(db: Database) -> bool:
    return any(d["status"] in ("pending", "in_flight") for d in deliveries(db).values())


async def test_a_cancelled_worker_records_the_batch_it_sent(db: Database) -> None:
    fake = FakeMeta(access_token=TOKEN)
    fake.script(ScriptedResponse(delay=0.5, passthrough=True))
    store(db, meta_events(3))
    async with meta_connector(fake) as connector:
        worker = Worker(SqlOutbox(db), {"meta": connector}, FAST, Metrics())
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while not fake.requests and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert fake.requests  # the platform has the whole batch and is answering (after its delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(fake.events) == 3
    assert all(d["status"] == "delivered" for d in deliveries(db).values())


async def test_a_lease_is_renewed_only_for_the_rows_its_worker_holds(db: Database) -> None:
    store(db, meta_events(3))
    now = time.time()
    held = [c.delivery_id for c in outbox.claim(db.engine, "meta", 2, now, 1.0, "worker-a")]
    lapsing = [c.delivery_id for c in outbox.claim(db.engine, "meta", 5, now, 1.0, "worker-b")]
    assert len(held) == 2 and len(lapsing) == 1
    assert outbox.renew(db.engine, "worker-a", held + lapsing, now + 60) == 2  # not worker-b's row
    later = outbox.claim(db.engine, "meta", 5, now + 5, 1.0, "worker-c")
    assert [c.delivery_id for c in later] == lapsing  # worker-a's renewed rows stay out of the claim
    done = [
        Completion(delivery_id=lapsing[0], status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED)
    ]
    assert outbox.complete(db.engine, "meta", "worker-c", done, now + 5) == 1
    assert outbox.renew(db.engine, "worker-c", lapsing, now + 60) == 0  # completed rows are left alone


# -- masking


# the token straddles the 200th character of an error text, the 300th of a success answer, the 1000th
@pytest.mark.parametrize("pad", [170, 250, 990])
async def test_stored_errors_never_hold_a_secret_cut_in_half(db: Database, pad: int) -> None:
    fake = FakeMeta(access_token=TOKEN)
    padding = "x" * pad
    fake.script(
        ScriptedResponse(status=502, body=f"proxy error {padding}{TOKEN} upstream"),
        ScriptedResponse(status=400, body={"error": {"message": f"bad {padding}{TOKEN}", "code": 100}}),
    )
    store(db, [make_event("order-1", "meta"), make_event("order-2", "meta")])
    async with meta_connector(fake, batch_size=1) as connector:
        worker = Worker(SqlOutbox(db), {"meta": connector}, FAST, Metrics())
        await worker.run_once("meta")  # order-1: 502, retried
        await worker.run_once("meta")  # order-2: 400, dead
        fake.script(ScriptedResponse(status=200, body={"events_received": 1, "echo": f"{padding}{TOKEN}"}))
        deadline = time.monotonic() + 10
        # order-1 again once its backoff has passed: delivered, the answer echoes the token
        while await worker.run_once("meta") == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    rows = deliveries(db)
    assert rows["order-2"]["status"] == "dead" and rows["order-1"]["status"] == "delivered"
    texts = stored_texts(db)
    assert len(texts) >= 3 and all(len(t) <= MAX_TEXT for t in texts)
    assert leaks(TOKEN, texts) == []
    assert any("***" in t for t in texts)


async def test_x_success_is_stored_without_the_oauth_header(db: Database) -> None:
    """A platform that echoes the Authorization header into its answer."""
    seen: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        seen.append(header)
        body = json.loads(request.content)
        data = {"conversions_processed": len(body["conversions"]), "debug_id": f"d1 Authorization: {header}"}
        return httpx.Response(200, json={"data": data})

    oauth = {
        "consumer_key": "ck-relay-0123456789",
        "consumer_secret": "cs-relay-secret-0123456789",
        "access_token": "1234-at-relay-0123456789",
        "access_token_secret": "ats-relay-secret-0123456789",
    }
    block = {"type": "x", "pixel_id": "o8z6j", "event_tags": {"Purchase": "o87ne"}, **oauth}
    store(db, [make_event("order-1", "x")])
    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as client:
        connector = XConnector("x", XSettings.model_validate(block), client)
        worker = Worker(SqlOutbox(db), {"x": connector}, FAST, Metrics())
        assert await worker.run_once("x") == 1
    assert deliveries(db)["order-1"]["status"] == "delivered"
    [header] = seen
    signature = header.split('oauth_signature="')[1].split('"')[0]
    texts = stored_texts(db)
    assert texts and all("d1" in t for t in texts)
    for secret in [*oauth.values(), signature]:
        assert leaks(secret, texts, window=8) == [], secret
