"""The dedup trust rule on real databases: an authenticated server event always wins over a browser
copy of the same (event_name, event_id); a browser copy only adds browser identifiers to it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import ClaimedDelivery, Completion, NewDelivery, NewEvent
from relay.storage.queries import DeliveryFilter
from relay.types import AttemptOutcome, DeliveryStatus, OutboundEvent

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
EM_REAL, EM_FAKE = "a" * 64, "f" * 64


def browser(event_id: str = "order-1", **kw: Any) -> NewEvent:
    """What an attacker (or the shop's own page) sends to /v1/collect."""
    ev = NewEvent(
        event_id=event_id,
        event_name="Purchase",
        event_time=int(NOW) - 5,
        received_at=NOW,
        action_source="website",
        source="collect",
        event_source_url="https://evil.example/x",
        referrer_url="https://evil.example/",
        hashed={"em": [EM_FAKE]},
        ids={"fbp": "fb.1.1.browser", "fbc": "fb.1.1.clickb", "madid": "browser-madid"},
        ip="198.51.100.7",
        user_agent="browser-ua",
        custom={"value": 0.01, "currency": "USD", "contents": [{"id": "cheap"}]},
        consent={"by": "browser"},
        deliveries=[
            NewDelivery("meta", "pending", "allow", "allowed"),
            NewDelivery("x", "skipped", "deny", "tcf purpose 4 not consented"),
        ],
    )
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def server(event_id: str = "order-1", **kw: Any) -> NewEvent:
    """The shop's backend on /v1/events, with its API key."""
    ev = NewEvent(
        event_id=event_id,
        event_name="Purchase",
        event_time=int(NOW) - 60,
        received_at=NOW + 1,
        action_source="website",
        source="events",
        event_source_url="https://shop.example/checkout/done",
        hashed={"em": [EM_REAL]},
        ids={"fbc": "fb.1.1.clicks"},
        custom={"value": 500.0, "currency": "EUR", "order_id": event_id},
        consent={"by": "server"},
        deliveries=[
            NewDelivery("meta", "pending", "limited", "us opt-out", "ldu", (1, 1000)),
            NewDelivery("x", "pending", "allow", "allowed"),
        ],
    )
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def stored_event(db: Database, event_id: str = "order-1") -> dict[str, Any]:
    with db.engine.connect() as conn:
        [row] = conn.execute(select(outbox.events).where(outbox.events.c.event_id == event_id)).all()
        count = conn.execute(select(func.count()).select_from(outbox.deliveries)).scalar_one()
    return {**row._asdict(), "deliveries": count}


def claim_all(db: Database, connector: str, at: float = NOW + 2) -> list[ClaimedDelivery]:
    return outbox.claim(db.engine, connector, 100, at, 30, f"w-{connector}")


def assert_server_version(db: Database, event: OutboundEvent) -> None:
    assert event.custom == {"value": 500.0, "currency": "EUR", "order_id": "order-1"}
    assert event.hashed == {"em": [EM_REAL]}
    assert event.event_source_url == "https://shop.example/checkout/done"
    assert event.referrer_url is None
    assert event.event_time == int(NOW) - 60
    assert stored_event(db)["source"] == "events"
    # the browser only adds what the server lacks among its identifiers: fbp, ip, user agent
    assert event.ids == {"fbp": "fb.1.1.browser", "fbc": "fb.1.1.clicks"}
    assert (event.ip, event.user_agent) == ("198.51.100.7", "browser-ua")


def test_browser_first_then_server_pending_deliveries_take_the_server_decision(db: Database) -> None:
    [first] = outbox.store_events(db.engine, [browser()], NOW)
    [second] = outbox.store_events(db.engine, [server()], NOW + 1)
    assert second.duplicate and second.event_pk == first.event_pk
    [meta] = claim_all(db, "meta")
    assert_server_version(db, meta.event)
    assert (meta.event.consent.decision, meta.event.consent.mode, meta.event.consent.ldu, meta.attempts) == (
        "limited",
        "ldu",
        (1, 1000),
        1,
    )
    # x was skipped by the browser's consent: the server's own decision adds a delivery
    [x] = claim_all(db, "x")
    assert x.event.consent.decision == "allow" and x.event.custom["value"] == 500.0
    rows = queries.list_deliveries(db.engine, DeliveryFilter(limit=10))
    assert sorted((r["connector"], r["status"]) for r in rows) == [
        ("meta", "in_flight"),
        ("x", "in_flight"),
        ("x", "skipped"),
    ]


def test_browser_delivery_already_claimed_or_sent_gets_a_new_server_delivery(db: Database) -> None:
    outbox.store_events(db.engine, [browser("sent"), browser("flying")], NOW)
    claimed = {c.event.event_id: c for c in claim_all(db, "meta")}
    assert claimed["flying"].event.custom["value"] == 0.01
    done = Completion(
        delivery_id=claimed["sent"].delivery_id,
        status=DeliveryStatus.DELIVERED,
        outcome=AttemptOutcome.DELIVERED,
    )
    assert outbox.complete(db.engine, "meta", "w-meta", [done], NOW + 1) == 1
    outbox.store_events(db.engine, [server("sent"), server("flying")], NOW + 2)
    # the in-flight row is left to its worker, who completes it as claimed
    flying = Completion(
        delivery_id=claimed["flying"].delivery_id,
        status=DeliveryStatus.DELIVERED,
        outcome=AttemptOutcome.DELIVERED,
    )
    assert outbox.complete(db.engine, "meta", "w-meta", [flying], NOW + 3) == 1
    again = {c.event.event_id: c for c in claim_all(db, "meta", NOW + 4)}
    assert sorted(again) == ["flying", "sent"]
    for c in again.values():
        assert c.event.custom["value"] == 500.0 and c.event.hashed == {"em": [EM_REAL]}
        assert c.event.consent.decision == "limited" and c.attempts == 1
    statuses = sorted(
        r["status"] for r in queries.list_deliveries(db.engine, DeliveryFilter(connector="meta"))
    )
    assert statuses == ["delivered", "delivered", "in_flight", "in_flight"]


def test_server_first_then_browser_only_adds_browser_identifiers(db: Database) -> None:
    outbox.store_events(db.engine, [server(ids={})], NOW)
    [result] = outbox.store_events(db.engine, [browser(received_at=NOW + 5)], NOW + 5)
    assert result.duplicate
    [meta] = claim_all(db, "meta")
    event = meta.event
    assert event.custom == {"value": 500.0, "currency": "EUR", "order_id": "order-1"}
    assert event.hashed == {"em": [EM_REAL]}
    assert event.event_source_url == "https://shop.example/checkout/done" and event.referrer_url is None
    assert event.ids == {"fbp": "fb.1.1.browser", "fbc": "fb.1.1.clickb"}  # never madid
    assert (event.ip, event.user_agent) == ("198.51.100.7", "browser-ua")
    assert stored_event(db)["source"] == "events" and meta.event.consent.decision == "limited"
    assert len(queries.list_deliveries(db.engine, DeliveryFilter(limit=10))) == 2


def test_server_keeps_its_own_identifiers_and_ignores_a_late_browser_copy(db: Database) -> None:
    outbox.store_events(db.engine, [server(ip="203.0.113.9", user_agent="server-ua")], NOW)
    [meta] = claim_all(db, "meta")
    outbox.complete(
        db.engine,
        "meta",
        "w-meta",
        [
            Completion(
                delivery_id=meta.delivery_id,
                status=DeliveryStatus.DELIVERED,
                outcome=AttemptOutcome.DELIVERED,
            )
        ],
        NOW,
    )
    [x] = claim_all(db, "x")
    outbox.complete(
        db.engine,
        "x",
        "w-x",
        [
            Completion(
                delivery_id=x.delivery_id, status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED
            )
        ],
        NOW,
    )
    outbox.store_events(db.engine, [browser()], NOW + 5)  # nothing pending any more: nothing changes
    event = stored_event(db)
    assert event["ids"] == {"fbc": "fb.1.1.clicks"}
    assert (event["ip"], event["user_agent"]) == ("203.0.113.9", "server-ua")
    assert event["deliveries"] == 2


@pytest.mark.parametrize("order", ["browser-first", "server-first"])
def test_both_copies_in_one_group_commit(db: Database, order: str) -> None:
    copies = [browser(), server()] if order == "browser-first" else [server(), browser()]
    results = outbox.store_events(db.engine, [*copies, browser("other")], NOW)
    assert results[0].event_pk == results[1].event_pk
    assert [r.duplicate for r in results] == [False, True, False]
    [meta] = [c for c in claim_all(db, "meta") if c.event.event_id == "order-1"]
    assert_server_version(db, meta.event)
    assert meta.event.consent.decision == "limited"
    [x] = claim_all(db, "x")
    assert x.event.event_id == "order-1" and x.event.consent.decision == "allow"


def test_server_denial_replaces_a_pending_browser_delivery(db: Database) -> None:
    outbox.store_events(db.engine, [browser()], NOW)
    denied = [
        NewDelivery("meta", "skipped", "deny", "consent withdrawn", last_error="consent: consent withdrawn"),
        NewDelivery("x", "skipped", "deny", "consent withdrawn", last_error="consent: consent withdrawn"),
    ]
    outbox.store_events(db.engine, [server(deliveries=denied, hashed={}, ids={})], NOW + 1)
    assert claim_all(db, "meta") == [] and claim_all(db, "x") == []
    event = stored_event(db)
    # the server event may send nothing, so nothing identifying of the browser copy stays either
    assert event["ids"] == {} and event["ip"] is None and event["hashed"] == {}


def test_copies_of_the_same_trust_fill_in_what_the_first_lacked(db: Database) -> None:
    first = browser(ids={"fbp": "fb.1.1.first"}, event_source_url=None, ip=None)
    later = browser(ids={"fbp": "fb.1.1.later", "fbc": "fb.1.1.c"}, custom={"value": 9.0, "extra": 1})
    outbox.store_events(db.engine, [first, later], NOW)
    [meta] = claim_all(db, "meta")
    assert meta.event.ids == {"fbp": "fb.1.1.first", "fbc": "fb.1.1.c"}
    assert meta.event.custom == {
        "value": 0.01,
        "currency": "USD",
        "contents": [{"id": "cheap"}],
        "extra": 1,
    }
    assert meta.event.event_source_url == "https://evil.example/x" and meta.event.ip == "198.51.100.7"
    assert stored_event(db)["source"] == "collect"


@pytest.mark.postgres
def test_server_copy_waits_for_a_claim_in_progress_and_leaves_its_row_alone(pg_fresh_url: str) -> None:
    database = Database(pg_fresh_url)
    database.migrate()
    try:
        outbox.store_events(database.engine, [browser()], NOW)
        d = outbox.deliveries
        with database.engine.connect() as worker:
            # a worker's claim, not yet committed: the row is locked and already in flight
            tx = worker.begin()
            locked = worker.execute(
                select(d.c.id).where(d.c.connector == "meta", d.c.status == "pending").with_for_update()
            ).scalar_one()
            worker.execute(update(d).where(d.c.id == locked).values(status="in_flight", worker_id="w"))
            with ThreadPoolExecutor(1) as pool:
                storing = pool.submit(outbox.store_events, database.engine, [server()], NOW + 1)
                wait_for_a_lock_wait(database)  # the server copy's transaction queues behind the claim
                assert not storing.done()
                tx.commit()
                [result] = storing.result(timeout=10)
        assert result.duplicate
        with database.engine.connect() as conn:
            rows = conn.execute(select(d).where(d.c.connector == "meta").order_by(d.c.id)).all()
        assert [(r.status, r.consent_decision) for r in rows] == [
            ("in_flight", "allow"),
            ("pending", "limited"),
        ]
    finally:
        database.close()


def wait_for_a_lock_wait(database: Database, timeout: float = 10.0) -> None:
    """Until a session of this test's database waits on a lock (PostgreSQL's own account of it)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    with database.engine.connect() as conn:
        while not conn.execute(query).scalar_one():
            assert time.monotonic() < deadline, "no session waited on the claim's lock"
            time.sleep(0.01)
            conn.rollback()
