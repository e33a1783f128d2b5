"""LinkedIn end to end: HTTP in, outbox on SQLite, worker, the sandbox's fake LinkedIn over loopback."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from relay.sandbox.base import ScriptedResponse
from relay.storage import outbox
from relay.storage.outbox import NewDelivery, NewEvent
from relay.testing import free_port
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
TOKEN = "sandbox-linkedin-token-0123456789"


def block(port: int) -> dict[str, Any]:
    return {
        "type": "linkedin",
        "access_token": TOKEN,
        "api_base": f"http://127.0.0.1:{port}/sandbox/linkedin",
        "conversion_rules": {"Purchase": "104012"},
    }


def store(relay: Relay, count: int, bad: int) -> None:
    now = time.time()
    events = [
        NewEvent(
            f"li-{i}",
            "Purchase",
            int(now),
            now,
            "website",
            "events",
            hashed={"em": [hashlib.sha256(f"user{i}@example.com".encode()).hexdigest()]},
            ids={"li_fat_id": f"fat-{i}"},
            custom={"value": "not a number" if i == bad else 9.5, "currency": "EUR"},
            deliveries=[NewDelivery("linkedin", "pending", "allow", "allowed")],
        )
        for i in range(count)
    ]
    outbox.store_events(relay.state.db.engine, events, now)


async def test_batch_in_one_request_with_one_bad_event_isolated(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"linkedin": block(port)}) as relay:
        store(relay, 30, bad=7)

        async def settled() -> list[dict[str, Any]] | None:
            items = await relay.deliveries(connector="linkedin")
            return items if sum(d["status"] in ("delivered", "dead") for d in items) == 30 else None

        items = {d["event_id"]: d for d in await relay.wait_for(settled, 20, "30 settled")}
        bad = items.pop("li-7")
        assert bad["status"] == "dead" and "cannot map event: ValueError" in bad["last_error"]
        assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in items.values())
        fake = relay.fake("linkedin")
        assert len(fake.requests) == 1 and len(fake.conversions) == 29
        assert fake.requests[0].headers["x-restli-method"] == "BATCH_CREATE"


async def test_posted_event_carries_email_hash_and_li_fat_id(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"linkedin": block(port)}) as relay:
        event = purchase("li-order-1")
        event["user"]["li_fat_id"] = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        assert (await relay.post_events(event)).status_code == 202
        await relay.wait_status("li-order-1", "linkedin", "delivered")
        [sent] = relay.fake("linkedin").conversions
        assert sent["user"]["userIds"] == [
            {"idType": "SHA256_EMAIL", "idValue": hashlib.sha256(b"jane.doe@example.com").hexdigest()},
            {
                "idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
                "idValue": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            },
        ]
        assert sent["conversionValue"] == {"currencyCode": "EUR", "amount": "42.5"}


async def test_auth_error_pauses_until_resumed_and_rate_limit_is_retried(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"linkedin": block(port)}) as relay:
        fake = relay.fake("linkedin")
        fake.script(
            ScriptedResponse(401, {"status": 401, "code": "REVOKED_ACCESS_TOKEN", "message": "revoked"})
        )
        await relay.post_events(purchase("li-auth"))

        async def paused() -> dict[str, Any] | None:
            items = (await relay.admin("connectors")).json()["items"]
            return next((c for c in items if c["name"] == "linkedin" and c["state"] == "paused"), None)

        state = await relay.wait_for(paused, what="linkedin paused")
        assert "REVOKED_ACCESS_TOKEN" in state["reason"] and TOKEN not in str(state)
        fake.script(
            ScriptedResponse(429, {"status": 429, "message": "Too many requests"}, {"Retry-After": "1"})
        )
        assert (await relay.admin("connectors/linkedin/resume", "POST")).json() == {"state": "active"}
        delivered = await relay.wait_status("li-auth", "linkedin", "delivered")
        log = (await relay.admin("events/li-auth")).json()["events"][0]["deliveries"]
        [attempts] = [d["attempt_log"] for d in log if d["connector"] == "linkedin"]
        assert [a["outcome"] for a in attempts] == ["paused", "retryable", "delivered"]
        assert delivered["attempts"] >= 2 and len(fake.conversions) == 1
