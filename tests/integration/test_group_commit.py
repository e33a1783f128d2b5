"""One event the database refuses stays that event's problem: the group commit stores every other
event of its transaction, rejects only the culprit, and finds it by bisection; an unavailable database
still fails everybody (503). On a real SQLite file and on PostgreSQL, values built past validation."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy import event as sa_event

from relay.exceptions import StorageError
from relay.ingest.writer import GroupCommitWriter
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import NewDelivery, NewEvent, SqlOutbox
from relay.storage.queries import DeliveryFilter

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0


def event(event_id: str, **kw: Any) -> NewEvent:
    ev = NewEvent(
        event_id=event_id,
        event_name="Purchase",
        event_time=int(NOW),
        received_at=NOW,
        action_source="website",
        source="events",
        custom={"value": 10.0, "currency": "EUR"},
        deliveries=[NewDelivery("meta", "pending", "allow", "allowed")],
    )
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


class Unencodable:
    """Not JSON: orjson falls back to ``str()``, which fails (a bug elsewhere, a value nobody expected)."""

    def __str__(self) -> str:
        raise TypeError("no text form")


def poisons(dialect: str) -> dict[str, NewEvent]:
    """Events the storage refuses on ``dialect`` although nothing upstream stopped them."""
    found = {
        "deep": event("p-deep", custom={"value": 1.0, "x": nested(300)}),
        "bigint": event("p-bigint", custom={"value": 10**30}),
        "key": event("p-key", custom={1: "not a string key"}),
        "object": event("p-object", custom={"value": Unencodable()}),
        "surrogate": event("p-surrogate", event_name="Purchase\ud800"),
        "event-time": event("p-time", event_time=10**30),  # refused by the database itself
    }
    if dialect == "postgresql":
        found |= {
            "nul-name": event("p-nul-name", event_name="Pur\x00chase"),
            "nul-id": event("p-nul\x00id"),
            "nul-url": event("p-nul-url", event_source_url="https://shop.example/\x00"),
        }
    return found


def count_transactions(engine: Engine) -> list[int]:
    begun = [0]

    @sa_event.listens_for(engine, "begin")
    def _begin(_conn: Any) -> None:
        begun[0] += 1

    return begun


def test_poisoned_events_are_rejected_alone(db: Database) -> None:
    bad = poisons(db.engine.dialect.name)
    good = [event(f"good-{i}") for i in range(60)]
    batch = list(good)
    for offset, ev in enumerate(bad.values()):
        batch.insert(7 * offset + 3, ev)
    begun = count_transactions(db.engine)
    results = outbox.store_events(db.engine, batch, NOW)
    by_id = {ev.event_id: r for ev, r in zip(batch, results, strict=True)}
    assert {i for i, r in by_id.items() if r.rejected} == {ev.event_id for ev in bad.values()}
    assert all(by_id[ev.event_id].event_pk > 0 and not by_id[ev.event_id].duplicate for ev in good)
    stored = {r["event_id"] for r in queries.list_deliveries(db.engine, DeliveryFilter(limit=1000))}
    assert stored == {ev.event_id for ev in good}
    claimed = outbox.claim(db.engine, "meta", 1000, NOW, 30, "w1")
    assert sorted(c.event.custom["value"] for c in claimed) == [10.0] * len(good)
    # bisection: each poison costs a few transactions, never a retry of the whole group per event
    database_refused = sum(1 for key in bad if key in ("surrogate", "event-time") or key.startswith("nul"))
    assert begun[0] <= 1 + 2 * database_refused * math.ceil(math.log2(len(batch)))


def test_json_refusals_need_no_transaction(db: Database) -> None:
    begun = count_transactions(db.engine)
    results = outbox.store_events(db.engine, [event("p", custom={"x": nested(300)}), event("ok")], NOW)
    assert results[0].rejected and "JSON" in results[0].rejected
    assert results[1].rejected is None
    assert begun[0] == 1  # the good event in one transaction, the bad one refused before it


def test_the_same_poison_alone_is_rejected_and_nothing_is_written(db: Database) -> None:
    for ev in poisons(db.engine.dialect.name).values():
        [result] = outbox.store_events(db.engine, [ev], NOW)
        assert result.rejected and result.event_pk == -1
    assert queries.list_deliveries(db.engine, DeliveryFilter(limit=10)) == []


@pytest.mark.anyio
async def test_concurrent_submissions_through_the_writer(db: Database) -> None:
    writer = GroupCommitWriter(SqlOutbox(db))
    writer.start()
    try:
        bad = list(poisons(db.engine.dialect.name).values())
        goods = [[event(f"g{i}-{j}") for j in range(i % 3 + 1)] for i in range(100)]
        submissions: list[list[NewEvent]] = [*goods, *[[ev] for ev in bad]]
        # each poison also shares a submission with a good event of the same client
        submissions += [[event(f"with-{k}"), ev] for k, ev in enumerate(bad)]
        answers = await asyncio.gather(*(writer.submit(s) for s in submissions))
    finally:
        await writer.aclose()
    for events, results in zip(submissions, answers, strict=True):
        for ev, result in zip(events, results, strict=True):
            assert (result.rejected is not None) == (ev in bad), ev.event_id
    expected = {ev.event_id for s in submissions for ev in s if ev not in bad}
    stored = {r["event_id"] for r in queries.list_deliveries(db.engine, DeliveryFilter(limit=1000))}
    assert stored == expected


def _unreachable(db_url: str, tmp_path: Path) -> tuple[Engine, sqlite3.Connection | None]:
    """An engine on a database that cannot answer: a SQLite file another process holds locked,
    a PostgreSQL server nobody listens for."""
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        return create_engine(db_url, connect_args={"timeout": 0.1}), holder
    return create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2}
    ), None


@pytest.mark.anyio
async def test_an_unavailable_database_fails_every_submission(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    working = db.engine
    db.engine, holder = _unreachable(db_url, tmp_path)
    writer = GroupCommitWriter(SqlOutbox(db))
    writer.start()
    try:
        bad = list(poisons(db.engine.dialect.name).values())[:2]
        submissions = [[event(f"down-{i}")] for i in range(10)] + [[ev] for ev in bad]
        answers = await asyncio.gather(*(writer.submit(s) for s in submissions), return_exceptions=True)
        for events, answer in zip(submissions, answers, strict=True):
            if isinstance(answer, list):  # a JSON refusal is known without the database
                assert events[0] in bad and answer[0].rejected == outbox.UNENCODABLE
            else:
                assert isinstance(answer, StorageError), answer
        assert all(isinstance(a, StorageError) for a in answers[:10])  # every good event: 503
        with pytest.raises(StorageError):
            await writer.submit([event("down-again")])
    finally:
        await writer.aclose()
        db.engine.dispose()
        db.engine = working
        if holder is not None:
            holder.rollback()
            holder.close()
    assert queries.list_deliveries(db.engine, DeliveryFilter(limit=10)) == []
