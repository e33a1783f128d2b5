"""The catalog sync's storage on a real SQLite file and on PostgreSQL: migration 0006, the run lock,
acknowledged items, lookalike records."""

from __future__ import annotations

import pytest

from relay.storage import catalog as store
from relay.storage.db import Database

pytestmark = pytest.mark.integration


def test_lock_items_and_lookalikes(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        engine = db.engine
        assert store.acquire(engine, "shop", "a", 100.0, 60)
        assert not store.acquire(engine, "shop", "b", 110.0, 60)  # held by a live lease
        assert store.renew(engine, "shop", "a", 150.0, 60) and not store.renew(engine, "shop", "b", 150.0, 60)
        assert store.acquire(engine, "shop", "b", 211.0, 60)  # a's lease ran out: taken over
        store.release(engine, "shop", "b", 220.0, "ok", '{"x": 1}', None)
        assert store.sync_rows(engine)["shop"]["status"] == "ok"

        store.acknowledge(
            engine, "shop", "meta", [("sku-1", "f1", None), ("sku-2", "f2", "bad image")], [], 1.0
        )
        store.acknowledge(engine, "shop", "meta", [("sku-1", "f1b", None)], ["sku-2"], 2.0)
        store.acknowledge(engine, "shop", "meta", [("sku-3", "f3", "refused")], [], 3.0)
        assert store.known(engine, "shop", "meta") == {"sku-1": "f1b", "sku-3": "f3"}  # refused too
        assert store.item_ids(engine, ["meta", "x"]) == {"meta": {"sku-1"}, "x": set()}
        assert store.item_counts(engine) == {("shop", "meta"): {"items": 1, "refused": 1}}

        row = {"audience": "buyers", "destination": "meta", "spec": "US:0.01", "origin_audience_id": "1"}
        row |= {"lookalike_id": None, "name": "n", "status": "waiting", "error": None, "updated_at": 1.0}
        store.save_lookalike(engine, row)
        store.save_lookalike(engine, {**row, "lookalike_id": "99", "status": "created"})
        assert [(r["lookalike_id"], r["status"]) for r in store.lookalike_rows(engine)] == [("99", "created")]
    finally:
        db.close()
