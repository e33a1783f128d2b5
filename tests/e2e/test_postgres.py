"""The scale-out path: PostgreSQL storage, several workers claiming at once, each event delivered once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from relay.app import start, stop
from relay.config import load_settings
from relay.delivery.worker import Worker
from relay.storage.outbox import SqlOutbox
from relay.testing import free_port
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.anyio]


async def test_three_workers_on_postgres_deliver_each_event_once(tmp_path: Path, pg_fresh_url: str) -> None:
    port = free_port()
    meta = {
        "type": "meta",
        "pixel_id": "1234567890",
        "access_token": "sandbox-meta-token",
        "batch_size": 7,
        "api_base": f"http://127.0.0.1:{port}/sandbox/meta",
        "consent": {"tcf_purposes": [1]},
    }
    async with run_relay(
        tmp_path, run_worker=False, port=port, storage={"url": pg_fresh_url}, connectors={"meta": meta}
    ) as relay:
        settings = load_settings(relay.config_path)
        events = [purchase(f"pg-{i}") for i in range(240)]
        for start_at in range(0, len(events), 80):
            response = await relay.post_events({"events": events[start_at : start_at + 80]})
            assert response.json()["accepted"] == 80
        # generous timeouts: this test is about claims, not about retries after a slow answer
        delivery = settings.delivery.model_copy(
            update={"poll_interval_ms": 5, "lease_seconds": 30, "request_timeout_seconds": 20}
        )
        settings = settings.model_copy(update={"delivery": delivery})
        states = [await start(settings, announce=lambda _: None) for _ in range(3)]
        workers = [
            Worker(SqlOutbox(s.db), {"meta": s.connectors["meta"]}, delivery, s.metrics) for s in states
        ]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            fake = relay.fake("meta")

            async def all_recorded() -> bool:
                return len(await relay.deliveries(status="delivered", connector="meta")) == 240

            await relay.wait_for(all_recorded, timeout=60, what="all deliveries recorded as delivered")
        finally:
            for w in workers:
                w.stop()
            await asyncio.gather(*tasks)
            for s in states:
                await stop(s)
        counts = Counter(e["event_id"] for e in fake.events)
        assert len(counts) == 240 and set(counts.values()) == {1}
        delivered = await relay.deliveries(status="delivered", connector="meta")
        assert len(delivered) == 240 and {d["attempts"] for d in delivered} == {1}
        assert len(fake.requests) >= 240 // 7  # the work really was split in many batches
