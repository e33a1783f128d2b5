"""The dashboard's reports (``relay.storage.reports``) on a real SQLite file and on PostgreSQL, over rows
written with known times, identifiers and outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, insert

from relay.storage import reports
from relay.storage.db import Database
from relay.storage.reports import WINDOWS, PageFilter
from tests.integration.stored import store_event

#: a fixed clock: the 1 h window then ends at T0 + 60 (its buckets are whole minutes)
T0 = 1_750_000_020.0
HOUR = WINDOWS["1h"]


def delivered(at: float, latency: float, connector: str = "meta") -> dict[str, Any]:
    return {"connector": connector, "status": "delivered", "delivered_at": at + latency}


def test_window_bounds_are_whole_buckets() -> None:
    assert HOUR.bounds(T0) == (T0 + 60 - 3600, T0 + 60)
    assert HOUR.bounds(T0 + 59.9) == (T0 + 60 - 3600, T0 + 60)
    assert WINDOWS["24h"].buckets == 96 and WINDOWS["7d"].buckets == 84


def test_timeseries_buckets_by_receipt_time(db: Database) -> None:
    start, end = HOUR.bounds(T0)
    store_event(db, start - 0.5, delivered(start - 0.5, 1))  # before the window
    store_event(db, start, delivered(start, 0.3))  # first bucket, on its lower edge
    store_event(db, start + 600, delivered(start + 600, 2.0), {"connector": "x", "status": "dead"})
    store_event(db, start + 659.9, delivered(start + 659.9, 40.0))
    store_event(db, start + 660, {"status": "skipped", "decision": "deny"})  # next bucket
    store_event(db, end - 0.1, {"status": "pending", "decision": "limited"})  # last bucket
    store_event(db, end, delivered(end, 1))  # after the window
    data = reports.timeseries(db.engine, HOUR, T0)
    assert (data["start"], data["end"], len(data["buckets"])) == (start, end, 60)
    received = data["received"]
    assert (received[0], received[10], received[11], received[59], sum(received)) == (1, 2, 1, 1, 5)
    meta, x = data["connectors"]["meta"], data["connectors"]["x"]
    assert meta["status"]["delivered"][0] == 1 and meta["status"]["delivered"][10] == 2
    assert meta["status"]["skipped"][11] == 1 and meta["status"]["pending"][59] == 1
    assert sum(meta["status"]["delivered"]) == 3 and sum(x["status"]["dead"]) == 1
    assert (sum(meta["consent"]["allow"]), meta["consent"]["deny"][11], meta["consent"]["limited"][59]) == (
        3,
        1,
        1,
    )
    latency = meta["latency"]
    assert latency["delivered"][0] == 1 and latency["delivered"][10] == 2
    assert latency["p50"][0] == 0.3  # capped at the bucket's exact maximum
    assert (latency["p50"][10], latency["p95"][10], latency["max"][10]) == (2.5, 40.0, 40.0)
    assert latency["p50"][1] is None and sum(x["latency"]["delivered"]) == 0


def test_timeseries_of_the_long_windows(db: Database) -> None:
    for window in ("24h", "7d"):
        w = WINDOWS[window]
        start, end = w.bounds(T0)
        pk = store_event(db, start + w.bucket_seconds * 3 + 1, delivered(start, 5))
        data = reports.timeseries(db.engine, w, T0)
        assert data["received"][3] == 1 and sum(data["received"]) >= 1, (window, pk)
        assert data["buckets"][3] == start + 3 * w.bucket_seconds and data["end"] == end


def test_coverage_counts_match_keys_of_events_consent_let_through(db: Database) -> None:
    digest = ["a" * 64]
    store_event(db, T0 - 10, {"connector": "meta"}, {"connector": "x"}, hashed={"em": digest, "ph": digest})
    store_event(db, T0 - 20, {"connector": "meta"}, hashed={"external_id": digest}, ids={"fbc": "fb.1.2.abc"})
    store_event(db, T0 - 30, {"connector": "meta"}, ip="203.0.113.1", user_agent="UA", ids={"twclid": "t"})
    store_event(db, T0 - 40, {"connector": "meta"}, ip="203.0.113.1")  # an IP without a user agent
    store_event(db, T0 - 50, {"connector": "meta", "decision": "deny"}, hashed={"em": digest})
    store_event(db, T0 - 7200, {"connector": "meta"}, hashed={"em": digest})  # before the window
    found = reports.coverage(db.engine, T0 - 3600, T0)
    assert found["meta"]["events"] == 4
    counts = {"email": 1, "phone": 1, "external_id": 1, "fbp_fbc": 1, "ip_ua": 1}
    assert found["meta"]["counts"] == counts and found["meta"]["shares"]["email"] == 0.25
    assert found["x"] == {
        "events": 1,
        "counts": {"email": 1, "phone": 1, "external_id": 0, "fbp_fbc": 0, "ip_ua": 0},
        "shares": {"email": 1.0, "phone": 1.0, "external_id": 0.0, "fbp_fbc": 0.0, "ip_ua": 0.0},
    }
    assert reports.coverage(db.engine, T0, T0 + 60) == {}


def test_deliveries_page_walks_back_with_its_cursor(db: Database) -> None:
    for i in range(5):
        store_event(
            db, T0 + i, {"connector": "meta"}, {"connector": "x", "status": "dead"}, event_name=f"E{i % 2}"
        )
    pages, before = [], None
    while True:
        page = reports.deliveries_page(db.engine, PageFilter(connector="meta", before=before, limit=2))
        pages.append([(d["connector"], d["event_name"]) for d in page["items"]])
        before = page["next_before"]
        if before is None:
            break
    assert pages == [[("meta", "E0"), ("meta", "E1")], [("meta", "E0"), ("meta", "E1")], [("meta", "E0")]]
    dead = reports.deliveries_page(db.engine, PageFilter(status="dead", event_name="E1", limit=10))
    assert [(d["connector"], d["received_at"]) for d in dead["items"]] == [("x", T0 + 3), ("x", T0 + 1)]
    assert dead["next_before"] is None
    (one,) = reports.deliveries_page(
        db.engine, PageFilter(event_id=dead["items"][0]["event_id"], status="dead")
    )["items"]
    assert one["consent"] == {"decision": "allow", "reason": "test", "mode": None}


def test_audience_sizes_count_acknowledged_members(db: Database) -> None:
    rows = [("a", "meta", f"{i:032x}") for i in range(3)] + [("a", "x", "0" * 32), ("b", "meta", "1" * 32)]
    with db.engine.begin() as conn:
        for audience, destination, key in rows:
            conn.execute(
                insert(reports.audience_state).values(
                    audience=audience, destination=destination, member_key=key
                )
            )
    assert reports.audience_sizes(db.engine) == {"a": {"meta": 3, "x": 1}, "b": {"meta": 1}}


def test_reports_read_their_window_through_the_receipt_index(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("the plan is checked on SQLite; PostgreSQL picks by its statistics")
    store_event(db, T0 - 5, delivered(T0 - 5, 1))
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        reports.timeseries(db.engine, WINDOWS["7d"], T0)
        reports.coverage(db.engine, T0 - 3600, T0)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 4
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            detail = " ".join(str(row[-1]) for row in plan)
            assert "ix_events_received_at" in detail, (statement, detail)
            if "deliveries" in statement:
                assert "ix_deliveries_event" in detail, (statement, detail)
