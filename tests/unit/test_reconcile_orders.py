"""Reading orders for ``relay reconcile``: CSV dialects and column aliases, a SQL query's rows, and
rows that cannot be read, reported by line number and never by their content."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from relay.reconcile.orders import OrdersError, csv_orders, read_orders, sql_orders
from relay.reconcile.send import order_event
from relay.settings import ReconcileSourceSettings


def test_csv_with_aliases_semicolons_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "ID;Created_At;Total;Currency;Email;consent_tcf\n"
        "A-1;2026-12-01T10:00:00Z;10,5;eur;secret@example.com;CQ\n"
        "A-2;1764583200;12.5;EUR;;\n"
        ";1764583200;1;EUR;;\n"
        "A-4;yesterday;1;EUR;hidden@example.com;\n"
    )
    batch = csv_orders(str(path))
    assert [o.order_id for o in batch.orders] == ["A-1", "A-2"]
    a1 = batch.orders[0]
    assert (a1.value, a1.currency, a1.consent, a1.line) == (10.5, "EUR", {"tcf": "CQ"}, 2)
    assert batch.invalid == [
        (4, "missing or over-long order_id"),
        (5, "time is not ISO-8601 or Unix seconds"),
    ]
    assert "hidden" not in repr(batch.invalid) and "secret" not in repr(batch.invalid)
    a2 = batch.orders[1]
    assert (a2.at, a2.value, a2.currency, a2.contact, a2.consent) == (1764583200.0, 12.5, "EUR", {}, {})


def test_an_order_becomes_a_server_purchase(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,time,value,currency,email,country,consent_usp\nA-1,1764583200,10,usd,a@b.example,US,1YNN\n"
    )
    order = csv_orders(str(path)).orders[0]
    event = order_event(order, "Purchase", "custom.shop_order")
    assert event == {
        "event_name": "Purchase",
        "event_id": "A-1",
        "event_time": 1764583200,
        "user": {"email": "a@b.example", "country": "US"},
        "custom": {"order_id": "A-1", "shop_order": "A-1", "value": 10.0, "currency": "USD"},
        "consent": {"usp": "1YNN"},
    }


def test_sql_orders_and_errors(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id TEXT, placed REAL, total REAL, cur TEXT)")
        conn.execute("INSERT INTO orders VALUES ('S-1', 1764583200, 9.5, 'EUR')")
    query = "SELECT id AS order_id, placed AS time, total AS value, cur AS currency FROM orders"
    batch = read_orders(ReconcileSourceSettings(type="sql", url=f"sqlite:///{db}", query=query))
    assert [(o.order_id, o.value, o.currency) for o in batch.orders] == [("S-1", 9.5, "EUR")]
    with pytest.raises(OrdersError, match="sql orders failed: OperationalError: no such table"):
        sql_orders(f"sqlite:///{db}", "SELECT * FROM nope")
    with pytest.raises(OrdersError, match="no order_id or time column"):
        sql_orders(f"sqlite:///{db}", "SELECT total FROM orders")
    with pytest.raises(OrdersError, match="needs a url and a query"):
        read_orders(ReconcileSourceSettings(type="sql"))
    with pytest.raises(OrdersError, match="cannot read"):
        read_orders(ReconcileSourceSettings(type="csv", path=str(tmp_path / "missing.csv")))
