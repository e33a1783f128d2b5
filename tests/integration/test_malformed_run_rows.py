"""The history of runs (audiences, reconciliation) kept in JSON columns: on SQLite a row whose JSON is
not JSON (edited by hand, a restored backup) costs that run's details only; the admin API lists every
other run (PostgreSQL's ``json`` type refuses such a value when it is written)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.storage.audiences.history import recent_runs, record_run, runs_page
from relay.storage.db import Database
from relay.storage.reconcile import recent_runs as reconcile_runs
from relay.storage.reconcile import save_run

pytestmark = pytest.mark.integration

NOW = time.time()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/relay.db")
    database.migrate()
    yield database
    database.close()


def audience_run(audience: str, at: float) -> dict[str, object]:
    destinations = {"meta": {"status": "ok", "added": 2}}
    row = {"audience": audience, "trigger": "cli", "status": "ok", "started_at": at, "finished_at": at + 1}
    return {**row, "members": 2, "added": 2, "destinations": destinations}


def test_an_audience_run_with_unreadable_destinations_is_listed_without_them(db: Database) -> None:
    bad = record_run(db.engine, audience_run("buyers", NOW - 20))
    record_run(db.engine, audience_run("buyers", NOW - 10))
    record_run(db.engine, audience_run("fans", NOW - 10))
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE audience_runs SET destinations = '{{\"meta\": ' WHERE id = {bad}")
    page = runs_page(db.engine, "buyers", None, 10)
    assert [(r["id"] == bad, r["destinations"]) for r in page["items"]] == [
        (False, {"meta": {"status": "ok", "added": 2}}),
        (True, {}),
    ]
    recent = recent_runs(db.engine, ["buyers", "fans"], 12)
    assert [len(recent["buyers"]), recent["fans"][0]["connectors"]] == [2, ["meta"]]


def test_a_reconciliation_run_with_unreadable_json_is_listed_without_it(db: Database) -> None:
    row = {"trigger": "cli", "source": "csv orders.csv", "status": "matched", "orders": 1, "error": None}
    bad = save_run(db.engine, {**row, "started_at": NOW - 20, "finished_at": NOW, "summary": {}, "items": []})
    save_run(
        db.engine, {**row, "started_at": NOW - 10, "finished_at": NOW, "summary": {"orders": 1}, "items": []}
    )
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE reconcile_runs SET summary = '{{', items = 'x' WHERE id = {bad}")
    runs = reconcile_runs(db.engine, 10, items=True)
    assert [(r["summary"], r["items"]) for r in runs] == [({"orders": 1}, []), ({}, [])]


@pytest.mark.parametrize("lease_until", ["soon", None])
def test_a_lock_whose_lease_is_not_a_time_can_be_taken(db: Database, lease_until: object) -> None:
    """A run lock edited by hand with an owner and a lease that is no time (text, or none at all) held
    its audience for ever (every run ``busy``); such a lease holds nothing."""
    from relay.storage.audiences.lock import _AUDIENCES

    assert _AUDIENCES.acquire(db.engine, "buyers", "worker-a", NOW, 60)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE audience_syncs SET lease_until = ? WHERE audience = 'buyers'", (lease_until,)
        )
    assert _AUDIENCES.acquire(db.engine, "buyers", "worker-b", NOW + 1, 60)
    assert not _AUDIENCES.acquire(db.engine, "buyers", "worker-c", NOW + 2, 60)  # a real lease holds
