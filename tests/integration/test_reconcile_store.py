"""Order reconciliation's queries (``relay.storage.reconcile``) and its comparison on a real SQLite file
and on PostgreSQL: conversions found by event id and by a custom key, with their deliveries; runs
stored and read back."""

from __future__ import annotations

import itertools
from typing import Any

from relay.reconcile.compare import compare
from relay.reconcile.orders import Order
from relay.storage import reconcile as store
from relay.storage.db import Database
from relay.storage.reconcile import Lookup
from tests.integration.stored import store_event

NOW = 1_750_000_000.0
_ids = itertools.count(1)


def add(
    db: Database, event_id: str, at: float, custom: dict[str, Any], *deliveries: tuple[str, str, str]
) -> None:
    store_event(
        db,
        at,
        *(
            {
                "connector": connector,
                "status": status,
                "decision": decision,
                "last_error": "HTTP 400: bad" if status == "dead" else None,
            }
            for connector, status, decision in deliveries
        ),
        event_id=event_id,
        custom=custom,
    )


def order(order_id: str, value: float | None = 10.0, currency: str | None = "EUR") -> Order:
    return Order(order_id, NOW, value, currency, next(_ids))


def test_conversions_by_event_id_with_their_deliveries(db: Database) -> None:
    add(
        db,
        "o-1",
        NOW,
        {"value": 10, "currency": "EUR"},
        ("meta", "delivered", "allow"),
        ("x", "dead", "allow"),
    )
    add(db, "o-2", NOW, {"value": 12.5, "currency": "USD"}, ("meta", "skipped", "deny"))
    add(db, "other", NOW, {"value": 1})
    ids = [f"o-{i}" for i in range(1, 1200)]  # more than one chunk of ids
    found = store.conversions(db.engine, ids, Lookup("Purchase", "event_id", 0, 0))
    assert set(found) == {"o-1", "o-2"}
    one = found["o-1"][0]
    assert (one.value, one.currency) == (10.0, "EUR")
    assert [(d.connector, d.status) for d in one.deliveries] == [("meta", "delivered"), ("x", "dead")]
    report = compare([order("o-1"), order("o-2", 10, "EUR"), order("o-3")], found, 0.01)
    kinds = {(f.order_id, f.kind, f.connector) for f in report.findings}
    assert kinds == {
        ("o-1", "dead", "x"),
        ("o-2", "currency_mismatch", None),  # refused by consent: the value was not stored, the currency was
        ("o-2", "not_delivered_consent", "meta"),
        ("o-3", "not_tracked", None),
    }
    assert report.status == "differences" and report.matched == 0
    assert report.summary()["not_delivered"] == {"meta": {"consent": 1}, "x": {"dead": 1}}


def test_conversions_by_a_custom_key_within_the_time_range(db: Database) -> None:
    add(db, "web-1", NOW, {"order_id": "A-1", "value": 5}, ("meta", "delivered", "allow"))
    add(db, "web-2", NOW + 60, {"order_id": "A-1", "value": 5}, ("meta", "delivered", "allow"))
    add(db, "web-3", NOW - 10 * 86400, {"order_id": "A-2", "value": 5})  # outside the range
    found = store.conversions(
        db.engine, ["A-1", "A-2"], Lookup("Purchase", "custom.order_id", NOW - 86400, NOW + 86400)
    )
    assert list(found) == ["A-1"] and [c.event_id for c in found["A-1"]] == ["web-1", "web-2"]
    report = compare([order("A-1", 5), order("A-2", 5)], found, 0.01)
    assert {(f.order_id, f.kind) for f in report.findings} == {
        ("A-1", "duplicate_conversion"),
        ("A-2", "not_tracked"),
    }


def test_runs_are_stored_newest_first(db: Database) -> None:
    for i, trigger in enumerate(("schedule", "cli", "schedule")):
        row = {"started_at": NOW + i, "finished_at": NOW + i + 1, "trigger": trigger, "source": "csv x.csv"}
        row |= {"status": "matched", "orders": i, "summary": {"matched": i}, "items": [{"order_id": f"o{i}"}]}
        store.save_run(db.engine, row)
    runs = store.recent_runs(db.engine, 2)
    assert [r["orders"] for r in runs] == [2, 1] and "items" not in runs[0]
    assert store.recent_runs(db.engine, 1, items=True)[0]["items"] == [{"order_id": "o2"}]
    assert (
        store.last_started(db.engine, "schedule") == NOW + 2
        and store.last_started(db.engine, "cli") == NOW + 1
    )
