"""Webhook end to end: HTTP in, outbox on SQLite, worker, the sandbox's receiver over loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from connectors.webhook import verify
from relay.sandbox.base import ScriptedResponse
from relay.storage import outbox
from relay.storage.outbox import NewDelivery, NewEvent
from relay.testing import free_port
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SECRET = "sandbox-webhook-secret-0123456789"


def block(port: int, **extra: Any) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/sandbox/webhook/events"
    return {"type": "webhook", "url": url, "secret": SECRET, "batch_size": 50, **extra}


async def test_signed_batch_with_one_refused_event_isolated(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"hook": block(port)}) as relay:
        now = time.time()
        events = [
            NewEvent(
                f"w-{i}",
                "Purchase",
                int(now),
                now,
                "website",
                "events",
                custom={"value": "forty" if i == 5 else 40},
                deliveries=[NewDelivery("hook", "pending", "allow", "allowed")],
            )
            for i in range(20)
        ]
        outbox.store_events(relay.state.db.engine, events, now)

        async def settled() -> list[dict[str, Any]] | None:
            items = await relay.deliveries(connector="hook")
            return items if sum(d["status"] in ("delivered", "dead") for d in items) == 20 else None

        items = {d["event_id"]: d for d in await relay.wait_for(settled, 20, "20 settled")}
        assert items.pop("w-5")["status"] == "dead"
        assert all(d["status"] == "delivered" for d in items.values())
        fake = relay.fake("webhook")
        assert sorted(e["event_id"] for e in fake.events) == sorted(items)
        first = fake.requests[0]
        assert len(first.json["events"]) == 20  # one batch first, then bisected around the bad one
        assert verify(
            SECRET, first.headers["x-relay-timestamp"], first.body, first.headers["x-relay-signature"]
        )


async def test_posted_event_arrives_hashed_only(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"hook": block(port)}) as relay:
        await relay.post_events(purchase("w-order"))
        await relay.wait_status("w-order", "hook", "delivered")
        [sent] = relay.fake("webhook").events
        body = relay.fake("webhook").requests[0].body.decode()
        assert "jane.doe" not in body.lower() and "650" not in body.replace(str(sent["event_time"]), "")
        assert sent["user"]["hashed"]["em"] and sent["consent"]["decision"] == "allow"


async def test_auth_error_pauses_rate_limit_and_timeout_are_retried(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"hook": block(port, timeout_seconds=0.3)}) as relay:
        fake = relay.fake("webhook")
        fake.script(ScriptedResponse(403, {"error": "forbidden"}))
        await relay.post_events(purchase("w-auth"))

        async def paused() -> dict[str, Any] | None:
            items = (await relay.admin("connectors")).json()["items"]
            return next((c for c in items if c["name"] == "hook" and c["state"] == "paused"), None)

        state = await relay.wait_for(paused, what="hook paused")
        assert "403" in state["reason"] and SECRET not in str(state)
        fake.script(
            ScriptedResponse(429, {"error": "slow"}, {"Retry-After": "1"}), ScriptedResponse(delay=1.0)
        )
        await relay.admin("connectors/hook/resume", "POST")
        await relay.wait_status("w-auth", "hook", "delivered")
        log = (await relay.admin("events/w-auth")).json()["events"][0]["deliveries"]
        [attempts] = [d["attempt_log"] for d in log if d["connector"] == "hook"]
        assert [a["outcome"] for a in attempts] == ["paused", "retryable", "retryable", "delivered"]
        assert [e["event_id"] for e in fake.events] == ["w-auth"]
