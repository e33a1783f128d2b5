"""One unmappable event in a batch of 500, end to end (real relay, SQLite file, the sandbox fakes over
HTTP): the 499 others are delivered on their first attempt, the bad one goes dead with its reason.

The bad event is written straight into the outbox, as a row stored before ingest validated
``custom`` would be."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from relay.sandbox.x import SANDBOX_OAUTH
from relay.storage import outbox
from relay.storage.outbox import NewDelivery, NewEvent
from relay.testing import free_port
from tests.e2e.harness import Relay, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

BAD = 250


def x_block(port: int) -> dict[str, Any]:
    keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    return {
        "type": "x",
        "pixel_id": "o8z6j",
        "event_tags": {"Purchase": "o87ne"},
        "api_base": f"http://127.0.0.1:{port}/sandbox/x",
        **dict(zip(keys, SANDBOX_OAUTH, strict=True)),
    }


def store_batch(relay: Relay, connector: str, count: int = 500) -> None:
    """``count`` purchases for ``connector`` in one transaction (so one claim takes them all)."""
    now = time.time()
    events = []
    for i in range(count):
        contents: Any = 5 if i == BAD else [{"id": f"sku-{i}", "quantity": 1, "price": 9.5}]
        events.append(
            NewEvent(
                f"{connector}-{i}",
                "Purchase",
                int(now),
                now,
                "website",
                "events",
                event_source_url="https://shop.example/checkout",
                hashed={"em": [hashlib.sha256(f"user{i}@example.com".encode()).hexdigest()]},
                ip="203.0.113.9",
                user_agent="Mozilla/5.0 (test)",
                custom={"value": 9.5, "currency": "EUR", "contents": contents},
                deliveries=[NewDelivery(connector, "pending", "allow", "allowed")],
            )
        )
    outbox.store_events(relay.state.db.engine, events, now)


async def settled(relay: Relay, connector: str, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        items = await relay.deliveries(connector=connector)
        done = [d for d in items if d["status"] in ("delivered", "dead")]
        return items if len(done) == count else None

    found: list[dict[str, Any]] = await relay.wait_for(check, 30, f"{count} {connector} deliveries settled")
    return found


def check(items: list[dict[str, Any]], connector: str) -> None:
    by_id = {d["event_id"]: d for d in items}
    bad = by_id.pop(f"{connector}-{BAD}")
    assert bad["status"] == "dead" and bad["attempts"] == 1
    assert bad["last_error"].startswith("cannot map event: TypeError")
    assert len(by_id) == 499
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in by_id.values())


async def test_meta_batch_of_500_with_one_unmappable_event(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        store_batch(relay, "meta")
        check(await settled(relay, "meta", 500), "meta")
        fake = relay.fake("meta")
        sent = [e["event_id"] for e in fake.events]
        assert len(sent) == 499 and len(set(sent)) == 499 and f"meta-{BAD}" not in sent
        assert len(fake.requests) == 1  # the good 499 in one request


async def test_x_batch_of_500_with_one_unmappable_event(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"x": x_block(port)}) as relay:
        store_batch(relay, "x")
        check(await settled(relay, "x", 500), "x")
        fake = relay.fake("x")
        sent = [c["conversion_id"] for c in fake.conversions]
        assert len(sent) == 499 and len(set(sent)) == 499 and f"x-{BAD}" not in sent
        assert len(fake.requests) == 1
        trace = (await relay.admin("events/x-0")).json()
        [delivery] = [d for d in trace["events"][0]["deliveries"] if d["connector"] == "x"]
        stored = str(delivery)
        assert all(secret not in stored for secret in SANDBOX_OAUTH) and "oauth_signature" not in stored
