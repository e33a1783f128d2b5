"""SQLite keeps any text in any column: an events row whose JSON columns hold something that is not JSON
(edited by hand, a restored backup) must cost that row only. Every reader of stored events — dashboard
coverage and trace, campaign results, reconciliation, audience rules, erasure, the catalog check, the
demo's engagement panel — answers for the other rows as if it were not there (PostgreSQL's ``json``
type refuses such a value when it is written, so this is SQLite's alone)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest

from relay.engagement import EVENT as ENGAGEMENT
from relay.engagement import RuleTerm, parse_term
from relay.storage import queries, reports, results
from relay.storage.audiences.erasure import erase_events
from relay.storage.audiences.rule import excluded_events, included_events
from relay.storage.catalog.content import content_rows
from relay.storage.db import Database
from relay.storage.engagement import page_engagement
from relay.storage.reconcile import Lookup, conversions
from tests.integration.stored import store_event

pytestmark = pytest.mark.integration

NOW = time.time()
JANE = hashlib.sha256(b"jane@example.com").hexdigest()
BROKEN = {"hashed": '{"em": ["' + JANE + '"', "ids": "[not json", "custom": "{order", "consent": "nope"}


@pytest.fixture
def db(tmp_path: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/relay.db")  # type: ignore[operator]
    database.migrate()
    yield database
    database.close()


def store_both(db: Database) -> None:
    """Two good purchases and, between them, one whose every JSON column is broken text."""
    good = {"hashed": {"em": [JANE]}, "ids": {"fbp": "fb.1.1.1"}, "consent": {"country": "US"}}
    keys = {}
    for at, order, value in ((NOW - 60, "A-1", 5), (NOW - 50, "A-2", 6), (NOW - 40, "A-3", 7)):
        custom = {"order_id": order, "value": value, "engaged_seconds": 30}
        keys[order] = store_event(db, at, {"connector": "meta"}, event_id=order, custom=custom, **good)
    with db.engine.begin() as conn:
        for column, text in BROKEN.items():
            conn.exec_driver_sql(f"UPDATE events SET {column} = ? WHERE id = ?", (text, keys["A-2"]))


def test_dashboard_coverage_and_trace(db: Database) -> None:
    store_both(db)
    covered = reports.coverage(db.engine, NOW - 3600, NOW + 60)["meta"]
    assert covered["events"] == 3 and covered["counts"]["email"] == 2
    [trace] = queries.event_trace(db.engine, "A-2")
    assert trace["identifiers"] == [] and trace["consent"] == {"unreadable": queries.UNREADABLE}
    assert [d["connector"] for d in trace["deliveries"]] == ["meta"]
    [good] = queries.event_trace(db.engine, "A-1")
    assert good["identifiers"] == ["em", "fbp"] and good["consent"] == {"country": "US"}


def test_campaign_results_and_reconciliation(db: Database) -> None:
    store_both(db)
    hits = list(results.window_hits(db.engine, NOW - 3600, NOW + 60))
    assert len(hits) == 3 and [h.value for h in hits] == [5, None, 7]
    found = conversions(
        db.engine, ["A-1", "A-2", "A-3"], Lookup("Purchase", "custom.order_id", NOW - 3600, NOW + 60)
    )
    assert sorted(found) == ["A-1", "A-3"]


@pytest.mark.parametrize("term", [RuleTerm("Purchase"), parse_term("Purchase with engaged_seconds >= 1")])
def test_audience_rules(db: Database, term: RuleTerm) -> None:
    store_both(db)
    included = [row for page in included_events(db.engine, "meta", [term], None) for row in page]
    assert [hashed for _, hashed, _ in included] == [{"em": [JANE]}] * 2
    excluded = [row for page in excluded_events(db.engine, [term], None) for row in page]
    assert len(excluded) == (3 if not term.conditions else 2)


def test_erasure_removes_the_unreadable_row_that_mentions_the_person(db: Database) -> None:
    store_both(db)
    assert erase_events(db.engine, {JANE}, lambda hashed: JANE in hashed.get("em", [])) == 3
    for event_id in ("A-1", "A-2", "A-3"):
        [trace] = queries.event_trace(db.engine, event_id)
        assert trace["identifiers"] == []


def test_catalog_check_and_engagement_panel(db: Database) -> None:
    store_both(db)
    rows = list(content_rows(db.engine, ["meta"], ["Purchase"], NOW - 3600, NOW + 60, 10))
    assert sorted(r[2].get("order_id", "-") for r in rows) == ["-", "A-1", "A-3"]
    store_event(db, NOW, event_id="pv-1:engagement", event_name=ENGAGEMENT, custom={"engaged_seconds": 3})
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET custom = '{' WHERE event_id = 'pv-1:engagement'")
    assert page_engagement(db.engine, "pv-1:engagement") == {"engaged_seconds": None, "scroll_depth": None}


def test_a_server_copy_replaces_a_stored_browser_event_whose_ids_are_unreadable(db: Database) -> None:
    from relay.storage.outbox import NewDelivery, NewEvent, store_events

    def copy(source: str, ids: dict[str, str]) -> NewEvent:
        delivery = NewDelivery("meta", "pending", "allow", "allowed")
        return NewEvent("o-9", "Purchase", int(NOW), NOW, "website", source, ids=ids, deliveries=[delivery])

    [first] = store_events(db.engine, [copy("collect", {"fbp": "fb.1.1.1"})], NOW)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET ids = '[broken' WHERE id = ?", (first.event_pk,))
    [second] = store_events(db.engine, [copy("events", {"external_id": "c-1"})], NOW + 1)
    assert second.rejected is None and second.duplicate and second.event_pk == first.event_pk
    [trace] = queries.event_trace(db.engine, "o-9")
    assert trace["source"] == "events" and trace["identifiers"] == ["external_id"]
