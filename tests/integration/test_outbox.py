"""The outbox on real databases: one-transaction fan-out, claims with leases, completion, replay, dedup."""

from __future__ import annotations

import pytest

from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import Completion, NewDelivery, NewEvent
from relay.storage.queries import DeliveryFilter
from relay.types import AttemptOutcome, DeliveryStatus

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0


def event(event_id: str, name: str = "Purchase", **kw: object) -> NewEvent:
    ev = NewEvent(
        event_id=event_id,
        event_name=name,
        event_time=int(NOW),
        received_at=NOW,
        action_source="website",
        source="events",
        deliveries=[
            NewDelivery("meta", "pending", "allow", "allowed"),
            NewDelivery("x", "skipped", "deny", "tcf purpose 4 not consented"),
        ],
    )
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def test_event_and_deliveries_are_written_together(db: Database) -> None:
    results = outbox.store_events(db.engine, [event("a"), event("b")], NOW)
    assert [r.duplicate for r in results] == [False, False]
    rows = queries.list_deliveries(db.engine, DeliveryFilter(limit=10))
    assert sorted((r["event_id"], r["connector"], r["status"]) for r in rows) == [
        ("a", "meta", "pending"),
        ("a", "x", "skipped"),
        ("b", "meta", "pending"),
        ("b", "x", "skipped"),
    ]
    skipped = next(r for r in rows if r["status"] == "skipped")
    assert skipped["consent"] == {"decision": "deny", "reason": "tcf purpose 4 not consented", "mode": None}


def test_dedup_within_48h_and_enrichment_while_pending(db: Database) -> None:
    first = event("o-1", hashed={"em": ["a" * 64]})
    outbox.store_events(db.engine, [first], NOW)
    copy = event("o-1", hashed={"ph": ["b" * 64]}, ids={"fbp": "fb.1.1.2"}, ip="203.0.113.9")
    [result] = outbox.store_events(db.engine, [copy], NOW + 60)
    assert result.duplicate
    [claimed] = outbox.claim(db.engine, "meta", 10, NOW + 61, 30, "w1")
    assert claimed.event.hashed == {"em": ["a" * 64], "ph": ["b" * 64]}
    assert claimed.event.ids == {"fbp": "fb.1.1.2"}
    assert claimed.event.ip == "203.0.113.9"
    # outside the window the same key is a new event
    [later] = outbox.store_events(db.engine, [event("o-1")], NOW + 49 * 3600)
    assert not later.duplicate and later.event_pk != result.event_pk


def test_duplicates_inside_one_batch_are_stored_once(db: Database) -> None:
    results = outbox.store_events(db.engine, [event("same"), event("same"), event("other", name="Lead")], NOW)
    assert results[0].event_pk == results[1].event_pk
    assert results[1].duplicate and not results[2].duplicate
    assert len(queries.list_deliveries(db.engine, DeliveryFilter(connector="meta"))) == 2


def test_claim_leases_and_lease_expiry_returns_work(db: Database) -> None:
    outbox.store_events(db.engine, [event(str(i)) for i in range(5)], NOW)
    first = outbox.claim(db.engine, "meta", 3, NOW, 30, "w1")
    second = outbox.claim(db.engine, "meta", 10, NOW + 1, 30, "w2")
    assert len(first) == 3 and len(second) == 2
    assert not {c.delivery_id for c in first} & {c.delivery_id for c in second}
    assert outbox.claim(db.engine, "meta", 10, NOW + 2, 30, "w3") == []
    # w1 dies: after its lease the deliveries are claimed again, with the attempt counted
    again = outbox.claim(db.engine, "meta", 10, NOW + 32, 30, "w3")
    assert sorted(c.delivery_id for c in again) == sorted(c.delivery_id for c in first + second)
    assert all(c.attempts == 2 for c in again)
    # the dead worker's late completion no longer applies
    late = [
        Completion(
            delivery_id=c.delivery_id, status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED
        )
        for c in first
    ]
    assert outbox.complete(db.engine, "meta", "w1", late, NOW + 33) == 0


def test_complete_records_attempts_and_retry_state(db: Database) -> None:
    outbox.store_events(db.engine, [event("r")], NOW)
    [c] = outbox.claim(db.engine, "meta", 10, NOW, 30, "w1")
    retry = Completion(
        delivery_id=c.delivery_id,
        status=DeliveryStatus.PENDING,
        outcome=AttemptOutcome.RETRYABLE,
        next_attempt_at=NOW + 100,
        last_error="HTTP 500",
        status_code=500,
        response='{"error":1}',
        latency_ms=12.5,
    )
    assert outbox.complete(db.engine, "meta", "w1", [retry], NOW + 1) == 1
    assert outbox.claim(db.engine, "meta", 10, NOW + 50, 30, "w1") == []  # not due yet
    [c2] = outbox.claim(db.engine, "meta", 10, NOW + 100, 30, "w1")
    assert c2.attempts == 2
    outbox.complete(
        db.engine,
        "meta",
        "w1",
        [
            Completion(
                delivery_id=c2.delivery_id,
                status=DeliveryStatus.DELIVERED,
                outcome=AttemptOutcome.DELIVERED,
                next_attempt_at=0,
                last_error=None,
                status_code=200,
            )
        ],
        NOW + 101,
    )
    [trace] = queries.event_trace(db.engine, "r")
    meta = next(d for d in trace["deliveries"] if d["connector"] == "meta")
    assert meta["status"] == "delivered" and meta["attempts"] == 2
    assert [(a["outcome"], a["status_code"]) for a in meta["attempt_log"]] == [
        ("retryable", 500),
        ("delivered", 200),
    ]
    assert queries.connector_states(db.engine)["meta"]["last_success_at"] == NOW + 101


def test_replay_requeues_dead_but_never_consent_skips(db: Database) -> None:
    outbox.store_events(db.engine, [event("d")], NOW)
    [c] = outbox.claim(db.engine, "meta", 10, NOW, 30, "w1")
    outbox.complete(
        db.engine,
        "meta",
        "w1",
        [
            Completion(
                delivery_id=c.delivery_id,
                status=DeliveryStatus.DEAD,
                outcome=AttemptOutcome.PERMANENT,
                next_attempt_at=0,
                last_error="bad",
            )
        ],
        NOW,
    )
    assert queries.replay(db.engine, DeliveryFilter(status="skipped"), NOW) == 0
    assert queries.replay(db.engine, DeliveryFilter(status="dead", connector="x"), NOW) == 0
    assert queries.replay(db.engine, DeliveryFilter(status="dead", event_id="d"), NOW + 5) == 1
    [again] = outbox.claim(db.engine, "meta", 10, NOW + 5, 30, "w1")
    assert again.attempts == 1  # reset by the replay


def test_pause_resume_and_reconfiguration(db: Database) -> None:
    queries.pause_connector(db.engine, "meta", "token expired (190)", "hash-1")
    assert queries.connector_states(db.engine)["meta"]["state"] == "paused"
    assert queries.resume_reconfigured(db.engine, {"meta": "hash-1"}) == []
    assert queries.resume_reconfigured(db.engine, {"meta": "hash-2"}) == ["meta"]
    assert queries.connector_states(db.engine)["meta"]["state"] == "active"
    assert queries.resume_connector(db.engine, "meta") is False


def test_purge_removes_old_finished_events_only(db: Database) -> None:
    outbox.store_events(db.engine, [event("old", ip="203.0.113.9")], NOW)
    outbox.store_events(db.engine, [event("new")], NOW + 40 * 86400)
    [c] = outbox.claim(db.engine, "meta", 1, NOW, 30, "w1")
    outbox.complete(
        db.engine,
        "meta",
        "w1",
        [
            Completion(
                delivery_id=c.delivery_id, status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED
            )
        ],
        NOW,
    )
    queries.open_session(db.engine, "ended", "token", NOW, NOW + 3600)
    queries.open_session(db.engine, "live", "token", NOW, NOW + 50 * 86400)
    result = queries.purge(db.engine, NOW + 30 * 86400, now=NOW + 40 * 86400)
    assert result["events_deleted"] == 1
    assert result["sessions_deleted"] == 1  # the expired one; the live one stays
    assert queries.session_token(db.engine, "live", NOW + 40 * 86400, 100 * 86400) == "token"
    assert queries.event_trace(db.engine, "old") == []
    assert len(queries.event_trace(db.engine, "new")) == 1
