"""Claim + complete cost per delivery on SQLite with a small backlog (10k pending deliveries) and a
large one (1M): the growth ratio should stay at or under 1.5x.

The backlog is built fast with the driver's ``executemany`` in a temporary file, then a worker's
cycle runs ``ROUNDS`` times: claim a batch, complete it (delivered). The same cycle with the claim
statement of before (one statement with an ``OR`` of pending and lapsed) runs beside it as the
baseline that shows why the claim is two statements. EXPLAIN QUERY PLAN of both is printed.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import and_, or_, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay.storage import lease
from relay.storage.db import Database
from relay.storage.lease import complete, deliveries
from relay.storage.outbox import Completion
from relay.types import AttemptOutcome, DeliveryStatus

NOW = 1_700_000_000.0
BATCH = 100
CHUNK = 50_000


def build(path: Path, pending: int, scattered: bool) -> Database:
    """A migrated SQLite file holding ``pending`` events, each with one pending ``meta`` delivery, due in
    the order they were stored (a backlog after an outage) or ``scattered`` over the past hour (retries
    whose times have nothing to do with where their rows are: the worst case for the page cache)."""
    db = Database(f"sqlite:///{path}")
    db.migrate()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # building only; the measured cycles run with FULL
    event_sql = (
        "INSERT INTO events (id, event_id, event_name, dedup_key, event_time, received_at, action_source,"
        " source, opt_out, hashed, ids, custom, consent, pii_purged) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    delivery_sql = (
        "INSERT INTO deliveries (event_pk, connector, status, attempts, next_attempt_at, consent_decision,"
        " consent_reason, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)"
    )
    hashed = '{"em":["' + "a" * 64 + '"]}'
    custom = '{"value":10.0,"currency":"EUR"}'
    for start in range(1, pending + 1, CHUNK):
        ids = range(start, min(start + CHUNK, pending + 1))
        head = ("Purchase", int(NOW), NOW, "website", "events", 0, hashed, "{}", custom, "{}", 0)
        conn.executemany(event_sql, ((i, f"e-{i}", head[0], f"Purchase\x1fe-{i}", *head[1:]) for i in ids))
        due = (NOW - 3600 + (i * 7919) % 3600 if scattered else NOW - pending + i for i in ids)
        conn.executemany(
            delivery_sql,
            (
                (i, "meta", "pending", 0, at, "allow", "allowed", NOW, NOW)
                for i, at in zip(ids, due, strict=True)
            ),
        )
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return db


def old_claim(db: Database, limit: int, now: float, worker_id: str) -> int:
    """The claim of before: one statement, pending-and-due OR lapsed, ordered by next_attempt_at."""
    d = deliveries
    due = (
        select(d.c.id)
        .where(
            d.c.connector == "meta",
            or_(
                and_(d.c.status == "pending", d.c.next_attempt_at <= now),
                and_(d.c.status == "in_flight", d.c.lease_until < now),
            ),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
        .cte("due")
    )
    stmt = (
        update(d)
        .where(d.c.id == due.c.id)
        .values(status="in_flight", lease_until=now + 60, worker_id=worker_id, attempts=d.c.attempts + 1)
        .returning(d.c.id)
    )
    with db.engine.begin() as conn:
        ids = [row.id for row in conn.execute(stmt)]
    _complete(db, ids, now, worker_id)
    return len(ids)


def new_claim(db: Database, limit: int, now: float, worker_id: str) -> int:
    claimed = lease.claim(db.engine, "meta", limit, now, 60, worker_id)
    _complete(db, [c.delivery_id for c in claimed], now, worker_id)
    return len(claimed)


def _complete(db: Database, ids: list[int], now: float, worker_id: str) -> None:
    done = [
        Completion(
            delivery_id=i, status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED, status_code=200
        )
        for i in ids
    ]
    complete(db.engine, "meta", worker_id, done, now)


def per_delivery(db: Database, cycle: Callable[[Database, int, float, str], int], rounds: int) -> float:
    """Median microseconds per delivery of ``rounds`` claim + complete cycles of ``BATCH``."""
    cycle(db, BATCH, NOW, "bench")  # warm-up: statements compiled and cached, pages read
    costs = []
    for r in range(rounds):
        started = time.perf_counter()
        n = cycle(db, BATCH, NOW + r, "bench")
        costs.append((time.perf_counter() - started) / max(n, 1) * 1e6)
    return statistics.median(costs)


def plans(path: Path) -> None:
    conn = sqlite3.connect(path)
    due = "SELECT id FROM deliveries WHERE connector = 'meta' AND {} ORDER BY next_attempt_at, id LIMIT 100"
    cases = {
        "new, due": "status = 'pending' AND next_attempt_at <= 1e12",
        "new, lapsed": "status = 'in_flight' AND lease_until < 1e12",
        "old": "(status = 'pending' AND next_attempt_at <= 1e12)"
        " OR (status = 'in_flight' AND lease_until < 1e12)",
    }
    for name, where in cases.items():
        rows = conn.execute("EXPLAIN QUERY PLAN " + due.format(where)).fetchall()
        print(f"  plan ({name}): " + "; ".join(str(r[-1]) for r in rows))
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    results: dict[tuple[str, str], dict[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="relay-bench-outbox-") as tmp:
        for layout in ("ordered", "scattered"):
            for size in (args.small, args.large):
                started = time.perf_counter()
                path = Path(tmp) / f"outbox-{size}.db"
                db = build(path, size, layout == "scattered")
                print(f"built {size:,} {layout} pending deliveries in {time.perf_counter() - started:.1f} s")
                if size == args.large and layout == "ordered":
                    plans(path)
                # the new claim first; the old one then claims the rows after those
                new = results.setdefault((layout, "new"), {})
                new[size] = per_delivery(db, new_claim, args.rounds)
                old = results.setdefault((layout, "old"), {})
                old[size] = per_delivery(db, old_claim, max(args.rounds // 4, 5))
                db.close()
                path.unlink()
    for (layout, name), cost in results.items():
        small, large = cost[args.small], cost[args.large]
        print(
            f"{layout:9} claim+complete ({name} claim): {small:6.1f} us/delivery at {args.small:,} pending,"
            f" {large:6.1f} us at {args.large:,}: growth {large / small:.2f}x"
        )
    growth = results[("ordered", "new")][args.large] / results[("ordered", "new")][args.small]
    print(
        f"growth ratio (ordered backlog) {growth:.2f}x (goal <= 1.5x): {'ok' if growth <= 1.5 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
