"""The campaign-results report and order reconciliation on a large SQLite file.

Builds (once, reused with ``--keep``) a relay database of ``--events`` events spread evenly over 30
days (visitors with UTM / click-id landings, page views, purchases, one delivery per event, consent
by country), then times ``GET /admin/api/results``'s query for each window and a reconciliation of
``--orders`` orders matched by event id.

    .venv/bin/python -m bench.results --events 1000000 --db /tmp/results-bench.db
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from pathlib import Path

from relay.reconcile.compare import compare
from relay.reconcile.orders import Order
from relay.results import ResultsQuery, campaign_results
from relay.storage import reconcile as store
from relay.storage.db import Database
from relay.storage.reconcile import Lookup

DAY = 86400.0
LANDINGS = [
    "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring",
    "https://shop.example/p/mug?fbclid=abc",
    "https://shop.example/p/tee?gclid=xyz",
    "https://shop.example/?ttclid=t1",
    "https://shop.example/",
]
PAGES = ["https://shop.example/p/mug", "https://shop.example/p/tee", "https://shop.example/checkout"]
COUNTRIES = [("US", "us"), ("DE", "eu"), ("FR", "eu"), ("GB", "other")]


def build(path: Path, n: int, now: float) -> None:
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.close()
    conn = sqlite3.connect(path)
    rng = random.Random(7)
    start = now - 30 * DAY
    step = 30 * DAY / n
    events, deliveries = [], []
    for i in range(n):
        visitor = rng.randrange(n // 8 or 1)
        first = i % 8 == 0
        name = "Purchase" if i % 40 == 39 else "PageView"
        url = rng.choice(LANDINGS) if first else rng.choice(PAGES)
        custom = {"value": 20.0, "currency": "EUR"} if name == "Purchase" else {}
        country, region = rng.choice(COUNTRIES)
        events.append(
            (i + 1, f"e-{i}", name, int(start + i * step), start + i * step, "website", "collect", url,
             json.dumps({"fbp": f"fb.1.1.{visitor}"}), json.dumps(custom),
             json.dumps({"country": country, "region": region}))
        )  # fmt: skip
        decision = "deny" if region == "eu" and i % 3 else "allow"
        status = "skipped" if decision == "deny" else "delivered"
        deliveries.append((i + 1, "meta", status, decision, start + i * step))
        if len(events) >= 50_000:
            _flush(conn, events, deliveries)
    _flush(conn, events, deliveries)
    conn.close()


def _flush(
    conn: sqlite3.Connection, events: list[tuple[object, ...]], deliveries: list[tuple[object, ...]]
) -> None:
    conn.executemany(
        "INSERT INTO events (id, event_id, event_name, event_time, received_at, action_source, source,"
        " event_source_url, opt_out, hashed, ids, custom, consent, pii_purged)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '{}', ?, ?, ?, 0)",
        events,
    )
    conn.executemany(
        "INSERT INTO deliveries (event_pk, connector, status, attempts, next_attempt_at, consent_decision,"
        " consent_reason, created_at, updated_at) VALUES (?, ?, ?, 1, 0, ?, '', ?, ?)",
        [(*d, d[-1]) for d in deliveries],
    )
    conn.commit()
    events.clear()
    deliveries.clear()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--db", default="/tmp/results-bench.db")
    parser.add_argument("--keep", action="store_true", help="reuse an existing file")
    args = parser.parse_args()
    path, now = Path(args.db), time.time()
    if not (args.keep and path.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        build(path, args.events, now)
        print(f"built {args.events:,} events in {time.perf_counter() - started:.1f} s ({path})")
    db = Database(f"sqlite:///{path}")
    for window in ("24h", "7d", "30d"):
        started = time.perf_counter()
        data = campaign_results(db.engine, ResultsQuery(window, "campaign", now))
        took = time.perf_counter() - started
        print(f"results {window:>4}: {data['totals']['events']:>9,} events in the window, {took:6.2f} s")
    ids = [f"e-{i}" for i in range(args.events - 40 * args.orders + 39, args.events, 40)]
    orders = [Order(oid, now, 20.0, "EUR", n) for n, oid in enumerate(ids)]
    started = time.perf_counter()
    found = store.conversions(db.engine, ids, Lookup("Purchase", "event_id", 0, 0))
    report = compare(orders, found, 0.01)
    took = time.perf_counter() - started
    print(f"reconcile: {len(orders):,} orders by event id, {report.matched:,} matched, {took:.2f} s")
    db.close()


if __name__ == "__main__":
    main()
