"""Ingest cost per request inside one process, without HTTP: where the CPU of `POST /v1/collect` goes.

Drives the raw ASGI handler (`relay.http.browser.collect`) with concurrent in-process clients on a real
SQLite file (WAL, full fsync: the durable default), the same event and headers as `bench/ingest.py`,
every event id unique. Prints requests/s and CPU microseconds per request: the whole process, the
group-commit storage thread (`store_events`), the pipeline (`Ingestor.prepare_batch`, measured alone
on the same events) and the handler around them (HTTP head, body, answer, the writer's hand-off).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.ingest import COOKIES, EVENT, ORIGIN, relay_config
from relay.app import start, start_intake, stop
from relay.config import load_settings
from relay.http import browser
from relay.ingest.intake import Intake
from relay.storage.db import Database
from relay.storage.outbox import NewEvent, SqlOutbox, StoreResult, store_events
from relay.text import plain_json

HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"content-type", b"application/json"),
    (b"origin", ORIGIN.encode()),
    (b"user-agent", b"Mozilla/5.0 (bench)"),
    (b"cookie", COOKIES.encode()),
]


class TimedOutbox(SqlOutbox):
    """The SQL outbox, counting the storage thread's CPU time and the events it stored (SQLite: one
    database thread, so the counters need no lock)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.cpu = 0.0
        self.events = 0
        self.groups = 0

    async def store(self, events: Sequence[NewEvent], now: float) -> list[StoreResult]:
        return await self.db.run(self._timed_store, events, now)

    def _timed_store(self, events: Sequence[NewEvent], now: float) -> list[StoreResult]:
        started = time.thread_time()
        results = store_events(self.db.engine, events, now)
        self.cpu += time.thread_time() - started
        self.events += len(events)
        self.groups += 1
        return results


class Client:
    """Sends `POST /v1/collect` straight to the handler, each body with a new event id (the bodies are
    encoded before the clock starts)."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.nonce = uuid.uuid4().hex
        self.made = 0
        self.bodies: list[bytes] = []

    def body(self) -> bytes:
        self.made += 1
        return json.dumps({**EVENT, "event_id": f"inproc-{self.nonce}-{self.made}"}).encode()

    def prepare(self, count: int) -> None:
        self.bodies = [self.body() for _ in range(count)]

    async def post(self) -> None:
        body = self.bodies.pop()
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/v1/collect",
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
            "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
        }
        answer: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            answer.append(message)

        await browser.collect(self.intake, scope, receive, send)
        if answer[0]["status"] != 202:
            raise SystemExit(f"bench: the relay answered {answer[0]['status']}: {answer[1]['body']!r}")


async def run(requests: int, concurrency: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-inproc-"))
    try:
        relay = await start(load_settings(relay_config(tmp, 18089)), announce=lambda _: None)
        intake = start_intake(relay)
        outbox = TimedOutbox(relay.db)
        intake.writer.outbox = outbox
        client = Client(intake)
        client.prepare(200)
        for _ in range(200):  # warm up: imports, caches, the first pages of the database
            await client.post()
        outbox.cpu, outbox.events, outbox.groups = 0.0, 0, 0
        per_client = requests // concurrency
        client.prepare(per_client * concurrency)

        async def loop() -> None:
            for _ in range(per_client):
                await client.post()

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sent = per_client * concurrency
        pipeline = _pipeline_cpu(intake, client, min(sent, 5000))
        await intake.writer.aclose()
        await stop(relay)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    storage = outbox.cpu / outbox.events
    main = cpu / sent - storage
    return {
        "rps": sent / wall,
        "process": cpu / sent * 1e6,
        "main": main * 1e6,
        "pipeline": pipeline * 1e6,
        "handler": (main - pipeline) * 1e6,
        "storage": storage * 1e6,
        "group": outbox.events / outbox.groups,
    }


def _pipeline_cpu(intake: Intake, client: Client, count: int) -> float:
    """CPU seconds of ``prepare_batch`` per event, alone, on fresh events like the bench's (with the
    handler's scan of the body for refused characters)."""
    headers = {k.decode(): v.decode() for k, v in HEADERS}
    scope = {"client": ("127.0.0.1", 50000), "headers": HEADERS}
    bodies = [client.body() for _ in range(count)]
    items = [json.loads(body) for body in bodies]
    ctx = browser.context(intake, scope, headers, "collect")
    started = time.process_time()
    for body, raw in zip(bodies, items, strict=True):
        intake.ingestor.prepare_batch([raw], ctx, plain=plain_json(body))
    return (time.process_time() - started) / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="the best round is shown")
    opts = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the relay's server runs on uvloop when it is there: so does the bench
        pass
    rounds = [asyncio.run(run(opts.requests, opts.concurrency)) for _ in range(opts.rounds)]
    best = min(rounds, key=lambda r: r["process"])
    print(f"in-process POST /v1/collect, {opts.concurrency} concurrent clients, SQLite (durable), best of")
    print(f"{opts.rounds} rounds of {opts.requests} requests; CPU microseconds per request (1 event each)")
    print(f"{'req/s':>8}{'process':>9}{'main':>7}{'handler':>9}{'pipeline':>10}{'storage':>9}{'group':>7}")
    print(
        f"{best['rps']:>8.0f}{best['process']:>9.0f}{best['main']:>7.0f}{best['handler']:>9.0f}"
        f"{best['pipeline']:>10.0f}{best['storage']:>9.0f}{best['group']:>7.1f}"
    )
    print("(main = process - storage thread; handler = main - pipeline: HTTP head, body, answer, hand-off)")


if __name__ == "__main__":
    main()
