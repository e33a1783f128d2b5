"""Issue 11 part B end to end: a browser copy of an order (anybody can send one to /v1/collect with
the order id) never replaces or suppresses the shop's authenticated /v1/events purchase; it only adds
the browser's cookies. Asserted on what the sandbox's fake Meta received."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.app import Background
from relay.types import DeliveryStatus
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ORIGIN = "https://shop.example"
FBP = "fb.1.1700000000000.1234567890"
FBC = "fb.1.1700000000000.IwAR-browser-click"
JANE = hashlib.sha256(b"jane.doe@example.com").hexdigest()
FINAL = {DeliveryStatus.DELIVERED, DeliveryStatus.DEAD, DeliveryStatus.SKIPPED}
MALLORY = hashlib.sha256(b"mallory@evil.example").hexdigest()


async def collect_copy(relay: Relay, event_id: str) -> httpx.Response:
    """The attacker's (or the order page's own) browser copy: a cent, another e-mail, cookies."""
    event = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/checkout/done?from=browser",
        "custom": {"value": 0.01, "currency": "USD", "contents": [{"id": "cheap", "quantity": 1}]},
        "user": {"email": "mallory@evil.example"},
    }
    headers = {
        "origin": ORIGIN,
        "user-agent": "Mozilla/5.0 (browser copy)",
        "cookie": f"_fbp={FBP}; _fbc={FBC}",
    }
    response = await relay.client.post(f"{relay.base}/v1/collect", json=event, headers=headers)
    assert response.status_code == 202, response.text
    return response


async def settled(relay: Relay) -> None:
    """Wait until no delivery is left to send (each is delivered, dead or skipped): whatever the fake
    has received then is all it will ever receive, as every copy stored had its delivery row by its 202."""

    async def done() -> bool:
        rows = await relay.deliveries()
        return bool(rows) and all(r["status"] in FINAL for r in rows)

    await relay.wait_for(done, timeout=15, what="every delivery settled")


def sent(relay: Relay, event_id: str) -> list[dict[str, Any]]:
    return [e for e in relay.fake("meta").events if e["event_id"] == event_id]


def assert_server_version(event: dict[str, Any]) -> None:
    assert event["custom_data"]["value"] == 42.5 and event["custom_data"]["currency"] == "EUR"
    assert "contents" not in event["custom_data"]
    assert event["user_data"]["em"] == [JANE]
    assert event["user_data"]["fbp"] == FBP and event["user_data"]["fbc"] == FBC  # the browser's cookies
    assert event["user_data"]["client_ip_address"] == "203.0.113.9"  # the server's own
    assert event["event_source_url"] == "https://shop.example/checkout/done"


@contextlib.asynccontextmanager
async def delivering(relay: Relay) -> AsyncIterator[None]:
    """The relay's delivery worker, started only now (the relay runs without one until then): both copies
    of an order wait in the outbox, as behind a paused connector, and are merged before anything is sent."""
    background = Background(relay.state)
    try:
        yield
    finally:
        await background.aclose()


async def test_browser_copy_first_then_the_server_purchase(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        await collect_copy(relay, "order-77")
        server = await relay.post_events(purchase("order-77"))
        assert server.status_code == 202 and server.json() == {"accepted": 1, "rejected": []}
        async with delivering(relay):
            await relay.wait_status("order-77", "meta", "delivered")
            await settled(relay)
        [event] = sent(relay, "order-77")
        assert_server_version(event)
        assert MALLORY not in str(relay.fake("meta").events)


async def test_server_purchase_after_the_browser_copy_was_delivered_is_sent_once(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        await collect_copy(relay, "order-78")
        await relay.wait_status("order-78", "meta", "delivered")
        [early] = sent(relay, "order-78")
        assert early["custom_data"]["value"] == 0.01  # already gone: the platform dedups by event_id
        assert (await relay.post_events(purchase("order-78"))).status_code == 202

        async def both_delivered() -> bool:
            rows = await relay.deliveries(event_id="order-78", connector="meta")
            return len(rows) == 2 and all(r["status"] == "delivered" for r in rows)

        await relay.wait_for(both_delivered, what="the server purchase delivered")
        await settled(relay)
        first, second = sent(relay, "order-78")
        assert first == early
        assert_server_version(second)
        # a later browser copy changes nothing and sends nothing
        await collect_copy(relay, "order-78")
        await settled(relay)
        assert len(sent(relay, "order-78")) == 2


async def test_server_purchase_first_then_a_browser_copy(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        assert (await relay.post_events(purchase("order-79"))).status_code == 202
        await collect_copy(relay, "order-79")
        async with delivering(relay):
            await relay.wait_status("order-79", "meta", "delivered")
            await settled(relay)
        [event] = sent(relay, "order-79")
        assert_server_version(event)
        assert event["user_data"]["client_user_agent"] == "Mozilla/5.0 (test)"  # the server's own


async def test_the_reverse_orders_inside_one_group_commit(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        ids = [f"order-g{i}" for i in range(20)]
        copies = [collect_copy(relay, i) for i in ids]
        servers = [relay.post_events(purchase(i)) for i in ids]
        # interleaved so that many pairs share a transaction, in both orders
        pairs = [(c, s) if k % 2 else (s, c) for k, (c, s) in enumerate(zip(copies, servers, strict=True))]
        mixed = [x for pair in pairs for x in pair]
        for response in await asyncio.gather(*mixed):
            assert response.status_code == 202
        async with delivering(relay):
            await settled(relay)
        for event_id in ids:
            [event] = sent(relay, event_id)
            assert_server_version(event)
