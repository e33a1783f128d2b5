"""Delivery throughput: the relay's worker (SQLite outbox: claim, send, complete) delivering N events
to the sandbox fake Meta over loopback HTTP, against the fake's own ceiling: the same batches posted
straight to it by the same connector, with no outbox. Goal: the worker reaches >= 0.8 of the ceiling.

The fake runs in its own uvicorn process (as a real platform would be elsewhere); runs alternate
ceiling / worker so both see the same machine state.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.meta import MetaConnector, MetaSettings
from relay.delivery.worker import Worker
from relay.metrics import Metrics
from relay.sandbox.meta import FakeMeta
from relay.settings import DeliverySettings
from relay.storage.db import Database
from relay.storage.outbox import NewDelivery, NewEvent, SqlOutbox, store_events
from relay.testing import free_port
from relay.types import ConsentVerdict, Delivered, DeliveryStatus, OutboundEvent

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "EAAB-bench-token-0123456789"


def fake_app() -> object:
    """``uvicorn --factory bench.delivery:fake_app``: the sandbox fake Meta."""
    return FakeMeta(access_token=TOKEN).app


def start_fake(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "bench.delivery:fake_app", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("bench: the fake Meta did not start")


def new_event(i: int, now: float) -> NewEvent:
    email = hashlib.sha256(f"buyer-{i}@example.com".encode()).hexdigest()
    return NewEvent(
        f"order-{i}",
        "Purchase",
        int(now),
        now,
        "website",
        "events",
        event_source_url="https://shop.example/checkout",
        hashed={"em": [email]},
        ids={"fbp": f"fb.1.1.{i}"},
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 (bench)",
        custom={"value": 10.0, "currency": "EUR"},
        deliveries=[NewDelivery("meta", DeliveryStatus.PENDING, "allow", "allowed")],
    )


def outbound(ev: NewEvent, delivery_id: int) -> OutboundEvent:
    return OutboundEvent(
        delivery_id=delivery_id,
        event_id=ev.event_id,
        event_name=ev.event_name,
        event_time=ev.event_time,
        action_source=ev.action_source,
        event_source_url=ev.event_source_url,
        hashed=ev.hashed,
        ids=ev.ids,
        ip=ev.ip,
        user_agent=ev.user_agent,
        custom=ev.custom,
        consent=ConsentVerdict("allow", "allowed"),
        received_at=ev.received_at,
    )


async def ceiling(connector: MetaConnector, events: list[OutboundEvent], batch: int) -> float:
    """Events per second: the same batches posted straight to the fake, one at a time as the worker does."""
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        outcomes = await connector.deliver(events[start : start + batch])
        assert all(isinstance(o, Delivered) for o in outcomes), outcomes[:1]
    return len(events) / (time.perf_counter() - started)


async def relay_worker(connector: MetaConnector, events: list[NewEvent], tmp: Path, round_: int) -> float:
    """Events per second: the worker (as ``relay serve`` runs it) claiming, sending and completing every
    stored event; its own counter of delivered events tells when it is done."""
    db = Database(f"sqlite:///{tmp / f'relay-{round_}.db'}")
    db.migrate()
    try:
        store_events(db.engine, events, time.time())
        with db.engine.connect() as conn:  # the stored backlog is checkpointed, as `relay serve` keeps it
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.start_checkpointer()
        metrics = Metrics()
        worker = Worker(SqlOutbox(db), {"meta": connector}, DeliverySettings(poll_interval_ms=50), metrics)
        labels = {"connector": "meta", "status": "delivered"}
        started = time.perf_counter()
        task = asyncio.create_task(worker.run())
        while (metrics.registry.get_sample_value("relay_deliveries_total", labels) or 0) < len(events):
            if task.done():
                task.result()
                raise RuntimeError("the worker stopped")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        worker.stop()
        await asyncio.wait_for(task, 30)
        return len(events) / elapsed
    finally:
        db.close()


async def run(events: int, batch: int, rounds: int) -> tuple[list[float], list[float]]:
    port = free_port()
    fake = start_fake(port)
    try:
        block = {
            "type": "meta",
            "pixel_id": "123",
            "access_token": TOKEN,
            "api_base": f"http://127.0.0.1:{port}",
            "batch_size": batch,
        }
        now = time.time()
        stored = [new_event(i, now) for i in range(events)]
        direct = [outbound(ev, i + 1) for i, ev in enumerate(stored)]
        worker_rates: list[float] = []
        ceiling_rates: list[float] = []
        async with httpx.AsyncClient(timeout=30) as client:
            connector = MetaConnector("meta", MetaSettings.model_validate(block), client)
            await ceiling(connector, direct[: batch * 2], batch)  # warm up: connections, imports
            with tempfile.TemporaryDirectory(prefix="relay-bench-delivery-") as tmp:
                for r in range(rounds):
                    ceiling_rates.append(await ceiling(connector, direct, batch))
                    worker_rates.append(await relay_worker(connector, stored, Path(tmp), r))
                    print(
                        f"  round {r + 1}: ceiling {ceiling_rates[-1]:,.0f} events/s,"
                        f" worker {worker_rates[-1]:,.0f} events/s"
                    )
        return ceiling_rates, worker_rates
    finally:
        fake.terminate()
        fake.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ceilings, workers = asyncio.run(run(args.events, args.batch, args.rounds))
    top, got = statistics.median(ceilings), statistics.median(workers)
    ratio = got / top
    print(
        f"fake Meta ceiling {top:,.0f} events/s; worker {got:,.0f} events/s"
        f" ({args.events:,} events, batches of {args.batch})"
    )
    print(f"delivery throughput ratio {ratio:.2f} (goal >= 0.8): {'ok' if ratio >= 0.8 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
