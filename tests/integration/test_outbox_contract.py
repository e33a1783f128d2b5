"""The outbox contract, run on every implementation (in memory, SQLite file, PostgreSQL) through the
:class:`relay.storage.outbox.Outbox` API only, so the in-memory twin cannot drift from the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from relay.storage.db import Database
from relay.storage.memory import MemoryOutbox
from relay.storage.outbox import (
    UNENCODABLE,
    ClaimedDelivery,
    Completion,
    NewDelivery,
    NewEvent,
    Outbox,
    SqlOutbox,
)
from relay.types import AttemptOutcome, DeliveryStatus

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NOW = 1_700_000_000.0
LEASE = 30.0
EM, EM_SERVER = "a" * 64, "c" * 64


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def box(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outbox]:
    if request.param == "memory":
        yield MemoryOutbox()
        return
    url = (
        f"sqlite:///{tmp_path / 'relay.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_fresh_url")
    )
    db = Database(url)
    await db.run(db.migrate)
    try:
        yield SqlOutbox(db)
    finally:
        db.close()


def event(event_id: str, *, source: str = "collect", name: str = "Purchase", **kw: Any) -> NewEvent:
    deliveries = kw.pop("deliveries", None) or [
        NewDelivery("meta", DeliveryStatus.PENDING, "allow", "allowed"),
        NewDelivery("x", DeliveryStatus.PENDING, "allow", "allowed"),
    ]
    values: dict[str, Any] = {
        "event_source_url": "https://shop.example/p",
        "hashed": {"em": [EM]},
        "ids": {"fbp": "fb.1.1.browser"},
        "ip": "198.51.100.7",
        "user_agent": "browser-ua",
        "custom": {"value": 10.0, "currency": "EUR"},
        **kw,
    }
    return NewEvent(event_id, name, int(NOW) - 60, NOW, "website", source, deliveries=deliveries, **values)


def server(event_id: str, **kw: Any) -> NewEvent:
    values: dict[str, Any] = {
        "hashed": {"em": [EM_SERVER]},
        "ids": {"fbc": "fb.1.1.clicks"},
        "ip": None,
        "user_agent": None,
        "custom": {"value": 500.0, "currency": "EUR"},
        "deliveries": [
            NewDelivery("meta", DeliveryStatus.PENDING, "limited", "us opt-out", "ldu", (1, 1000)),
            NewDelivery("x", DeliveryStatus.PENDING, "allow", "allowed"),
        ],
        **kw,
    }
    return event(event_id, source="events", **values)


async def claim(
    box: Outbox, connector: str = "meta", at: float = NOW, limit: int = 100, worker: str = "w1"
) -> list[ClaimedDelivery]:
    return await box.claim(connector, limit=limit, now=at, lease_seconds=LEASE, worker_id=worker)


def done(c: ClaimedDelivery, status: DeliveryStatus = DeliveryStatus.DELIVERED, **kw: Any) -> Completion:
    outcome = {
        DeliveryStatus.DELIVERED: AttemptOutcome.DELIVERED,
        DeliveryStatus.PENDING: AttemptOutcome.RETRYABLE,
        DeliveryStatus.DEAD: AttemptOutcome.PERMANENT,
    }[status]
    return Completion(delivery_id=c.delivery_id, status=status, outcome=outcome, **kw)


async def test_store_fans_out_and_claims_carry_the_outbound_event(box: Outbox) -> None:
    skipped = NewDelivery("x", DeliveryStatus.SKIPPED, "deny", "no consent", last_error="consent: no consent")
    ldu = NewDelivery("meta", DeliveryStatus.PENDING, "limited", "us opt-out", "ldu", (1, 1000))
    results = await box.store([event("a"), event("b", deliveries=[ldu, skipped])], NOW)
    assert [r.duplicate for r in results] == [False, False] and results[0].event_pk != results[1].event_pk
    meta = await claim(box)
    assert [c.event.event_id for c in meta] == ["a", "b"]
    assert [c.delivery_id for c in meta] == sorted(c.delivery_id for c in meta)
    a, b = meta
    assert a.attempts == 1 and a.connector == "meta" and a.created_at == NOW and a.unreadable is None
    assert a.event.delivery_id == a.delivery_id and a.event.event_name == "Purchase"
    assert a.event.hashed == {"em": [EM]} and a.event.custom == {"value": 10.0, "currency": "EUR"}
    assert (a.event.ip, a.event.user_agent, a.event.received_at) == ("198.51.100.7", "browser-ua", NOW)
    assert (b.event.consent.decision, b.event.consent.mode, b.event.consent.ldu) == (
        "limited",
        "ldu",
        (1, 1000),
    )
    assert [c.event.event_id for c in await claim(box, "x")] == ["a"]  # b's x delivery was skipped


async def test_strip_mode_sends_no_contact_details(box: Outbox) -> None:
    strip = NewDelivery("meta", DeliveryStatus.PENDING, "limited", "no ad storage", "strip")
    await box.store([event("s", deliveries=[strip])], NOW)
    [c] = await claim(box)
    assert c.event.hashed == {} and c.event.ids == {"fbp": "fb.1.1.browser"}


async def test_dedup_within_48_hours_then_a_new_event(box: Outbox) -> None:
    first, again, other = await box.store([event("d"), event("d"), event("d", name="Lead")], NOW)
    assert not first.duplicate and again.duplicate and again.event_pk == first.event_pk
    assert not other.duplicate and other.event_pk != first.event_pk
    [later] = await box.store([event("d")], NOW + 47 * 3600)
    assert later.duplicate and later.event_pk == first.event_pk
    [fresh] = await box.store([event("d")], NOW + 49 * 3600)
    assert not fresh.duplicate and fresh.event_pk != first.event_pk
    assert len(await claim(box, at=NOW + 49 * 3600)) == 3  # d, Lead d, and d again after the window


async def test_unencodable_event_is_rejected_alone(box: Outbox) -> None:
    bad = event("bad", custom={"n": 2**70})
    ok, rejected = await box.store([event("ok"), bad], NOW)
    assert ok.rejected is None and rejected.rejected == UNENCODABLE
    assert [c.event.event_id for c in await claim(box)] == ["ok"]


async def test_trust_rule_server_copy_wins_over_a_pending_browser_copy(box: Outbox) -> None:
    await box.store([event("o")], NOW)
    [result] = await box.store([server("o")], NOW + 1)
    assert result.duplicate
    [meta] = await claim(box, at=NOW + 2)
    assert meta.event.custom == {"value": 500.0, "currency": "EUR"} and meta.event.hashed == {
        "em": [EM_SERVER]
    }
    assert meta.event.ids == {"fbp": "fb.1.1.browser", "fbc": "fb.1.1.clicks"}  # browser ids it lacked
    assert (meta.event.ip, meta.event.user_agent) == ("198.51.100.7", "browser-ua")
    assert meta.event.consent.decision == "limited" and meta.attempts == 1 and meta.created_at == NOW + 1


async def test_trust_rule_a_browser_copy_only_adds_browser_identifiers(box: Outbox) -> None:
    await box.store([server("o", ip="203.0.113.9")], NOW)
    evil = event("o", ids={"fbp": "fb.1.1.b", "madid": "m-1"}, custom={"value": 0.01}, user_agent="b-ua")
    await box.store([evil], NOW + 1)
    [meta] = await claim(box, at=NOW + 2)
    assert meta.event.custom == {"value": 500.0, "currency": "EUR"} and meta.event.hashed == {
        "em": [EM_SERVER]
    }
    assert meta.event.ids == {"fbc": "fb.1.1.clicks", "fbp": "fb.1.1.b"}
    assert (meta.event.ip, meta.event.user_agent) == ("203.0.113.9", "b-ua")


async def test_trust_rule_a_server_copy_after_a_sent_browser_copy_is_sent_again(box: Outbox) -> None:
    await box.store([event("o")], NOW)
    [sent] = await claim(box)
    assert await box.complete("meta", "w1", [done(sent)], NOW + 1) == 1
    await box.store([server("o")], NOW + 2)
    [resend] = await claim(box, at=NOW + 3)
    assert resend.delivery_id != sent.delivery_id and resend.event.custom["value"] == 500.0


async def test_same_trust_copies_fill_in_what_the_first_lacked(box: Outbox) -> None:
    first = event("o", ids={"fbp": "fb.1.1.first"}, event_source_url=None, ip=None)
    later = event("o", ids={"fbp": "fb.1.1.later", "fbc": "fb.1.1.c"}, custom={"value": 9.0, "extra": 1})
    await box.store([first, later], NOW)
    [meta] = await claim(box)
    assert meta.event.ids == {"fbp": "fb.1.1.first", "fbc": "fb.1.1.c"}
    assert meta.event.custom == {"value": 10.0, "currency": "EUR", "extra": 1}
    assert meta.event.event_source_url == "https://shop.example/p" and meta.event.ip == "198.51.100.7"


async def test_claims_are_exclusive_until_the_lease_lapses(box: Outbox) -> None:
    await box.store([event(str(i)) for i in range(5)], NOW)
    first = await claim(box, limit=3, worker="w1")
    second = await claim(box, at=NOW + 1, worker="w2")
    assert len(first) == 3 and len(second) == 2
    assert {c.delivery_id for c in first}.isdisjoint(c.delivery_id for c in second)
    assert await claim(box, at=NOW + 2, worker="w3") == []
    again = await claim(box, at=NOW + LEASE + 2, worker="w3")  # w1 and w2 died
    assert len(again) == 5 and all(c.attempts == 2 for c in again)
    assert await box.complete("meta", "w1", [done(c) for c in first], NOW + LEASE + 3) == 0  # not the holder
    assert await box.complete("meta", "w3", [done(c) for c in again], NOW + LEASE + 3) == 5
    assert await claim(box, at=NOW + 10 * LEASE, worker="w4") == []  # delivered: never claimed again


async def test_a_lease_is_renewed_only_for_the_rows_its_worker_holds(box: Outbox) -> None:
    await box.store([event(str(i)) for i in range(3)], NOW)
    held = [c.delivery_id for c in await claim(box, limit=2, worker="a")]
    other = [c.delivery_id for c in await claim(box, worker="b")]
    assert await box.renew("a", held + other, NOW + 100) == 2
    later = await claim(box, at=NOW + LEASE + 1, worker="c")
    assert [c.delivery_id for c in later] == other  # a's renewed rows stay out of the claim
    assert await box.complete("meta", "c", [done(later[0])], NOW + LEASE + 1) == 1
    assert await box.renew("c", other, NOW + 200) == 0  # completed rows are left alone
    assert await box.renew("a", [], NOW + 200) == 0


async def test_a_retry_waits_for_its_time_and_a_given_back_attempt_is_not_counted(box: Outbox) -> None:
    await box.store([event("r")], NOW)
    [c] = await claim(box)
    retry = done(c, DeliveryStatus.PENDING, next_attempt_at=NOW + 100, last_error="HTTP 500", status_code=500)
    assert await box.complete("meta", "w1", [retry], NOW + 1) == 1
    assert await claim(box, at=NOW + 50) == []
    [c2] = await claim(box, at=NOW + 100)
    assert c2.delivery_id == c.delivery_id and c2.attempts == 2
    paused = Completion(
        delivery_id=c2.delivery_id,
        status=DeliveryStatus.PENDING,
        outcome=AttemptOutcome.PAUSED,
        next_attempt_at=NOW + 101,
        attempts_delta=-1,
    )
    assert await box.complete("meta", "w1", [paused], NOW + 101) == 1
    [c3] = await claim(box, at=NOW + 101)
    assert c3.attempts == 2  # the paused try was given back
    assert await box.complete("meta", "w1", [done(c3, DeliveryStatus.DEAD, last_error="bad")], NOW + 102) == 1
    assert await claim(box, at=NOW + 10_000) == []


async def test_pause(box: Outbox) -> None:
    assert not await box.paused("meta")
    await box.pause("meta", "token revoked", "hash-1")
    assert await box.paused("meta") and not await box.paused("x")
