"""The worker on a real SQLite file with an in-test connector: failures of any kind never stop delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from connectors.base import BaseConnector
from relay.delivery.worker import Worker
from relay.metrics import Metrics
from relay.settings import ConnectorSettings, DeliverySettings
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import NewDelivery, NewEvent
from relay.storage.queries import DeliveryFilter
from relay.types import Delivered, OutboundEvent, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class FlakyConnector(BaseConnector[ConnectorSettings]):
    """Breaks in the places a careless plugin might: its batch size, then its delivery."""

    type_name = "flaky"
    failures: ClassVar[list[str]] = []

    def __init__(self) -> None:
        super().__init__(
            "flaky", ConnectorSettings(type="flaky", api_base="http://unused"), httpx.AsyncClient()
        )
        self.sent: list[str] = []
        self.broken_batch_size = 1
        self.broken_deliveries = 1

    @property
    def max_batch(self) -> int:
        if self.broken_batch_size:
            self.broken_batch_size -= 1
            raise RuntimeError("plugin bug in max_batch")
        return 10

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        if self.broken_deliveries:
            self.broken_deliveries -= 1
            raise KeyError("plugin bug in deliver")
        self.sent += [e.event_id for e in events]
        return [Delivered(200) for _ in events]


async def test_plugin_bugs_are_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'relay.db'}")
    db.migrate()
    now = time.time()
    event = NewEvent(
        "e1",
        "Purchase",
        int(now),
        now,
        "website",
        "events",
        deliveries=[NewDelivery("flaky", "pending", "allow", "allowed")],
    )
    outbox.store_events(db.engine, [event], now)
    connector = FlakyConnector()
    settings = DeliverySettings(poll_interval_ms=10, backoff_base_seconds=0.01, backoff_max_seconds=0.02)
    worker = Worker(db, {"flaky": connector}, settings, Metrics())
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 10
        while not connector.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    assert connector.sent == ["e1"]
    [d] = queries.list_deliveries(db.engine, DeliveryFilter())
    assert d["status"] == "delivered" and d["attempts"] == 2  # the failed deliver() counted as one attempt
    await connector.client.aclose()
    db.close()
