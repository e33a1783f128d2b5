"""Google Ads end to end: HTTP in, outbox on SQLite, worker, the sandbox's fake Google over loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from relay.sandbox.base import ScriptedResponse
from relay.testing import free_port
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
DEV, ACCESS = "sandbox-google-dev-token-0123", "sandbox-google-access-token-0123"


def block(port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/sandbox/google_ads"
    return {
        "type": "google_ads",
        "api_base": base,
        "data_manager_base": base,
        "token_url": f"{base}/token",
        "customer_id": "123-456-7890",
        "developer_token": DEV,
        "access_token": ACCESS,
        "conversion_actions": {"Purchase": "555"},
    }


def gclid_purchase(event_id: str, gclid: str) -> dict[str, Any]:
    event = purchase(event_id)
    event["user"] |= {"gclid": gclid, "email": "Jane.Doe@gmail.com"}
    return event


async def test_batch_with_one_refused_row_in_one_request(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"google_ads": block(port)}) as relay:
        fake = relay.fake("google_ads")
        fake.unknown_clicks.add("gclid-unknown")
        events = [gclid_purchase(f"g-{i}", "gclid-unknown" if i == 3 else f"gclid-{i}") for i in range(8)]
        assert (await relay.post_events({"events": events})).status_code == 202
        dead = await relay.wait_status("g-3", "google_ads", "dead")
        assert "CLICK_NOT_FOUND" in dead["last_error"] and dead["attempts"] == 1
        for i in (0, 1, 2, 4, 5, 6, 7):
            await relay.wait_status(f"g-{i}", "google_ads", "delivered")
        assert sorted(r["orderId"] for r in fake.conversions) == [f"g-{i}" for i in (0, 1, 2, 4, 5, 6, 7)]
        assert len(fake.requests) <= 2  # batched (the worker may claim the first event alone)
        row = fake.conversions[0]
        assert row["userIdentifiers"][0]["hashedEmail"] == hashlib.sha256(b"janedoe@gmail.com").hexdigest()
        assert row["consent"] == {"adUserData": "GRANTED"}


async def test_auth_error_pauses_until_resumed_and_rate_limit_is_retried(tmp_path: Path) -> None:
    port = free_port()
    async with run_relay(tmp_path, port=port, connectors={"google_ads": block(port)}) as relay:
        fake = relay.fake("google_ads")
        denied = {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "USER_PERMISSION_DENIED"}}
        fake.script(ScriptedResponse(403, denied))
        await relay.post_events(gclid_purchase("g-auth", "gclid-a"))

        async def paused() -> dict[str, Any] | None:
            items = (await relay.admin("connectors")).json()["items"]
            return next((c for c in items if c["name"] == "google_ads" and c["state"] == "paused"), None)

        state = await relay.wait_for(paused, what="google_ads paused")
        assert "PERMISSION_DENIED" in state["reason"] and DEV not in str(state) and ACCESS not in str(state)
        exhausted = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}
        fake.script(ScriptedResponse(429, exhausted, {"Retry-After": "1"}))
        await relay.admin("connectors/google_ads/resume", "POST")
        await relay.wait_status("g-auth", "google_ads", "delivered")
        log = (await relay.admin("events/g-auth")).json()["events"][0]["deliveries"]
        [attempts] = [d["attempt_log"] for d in log if d["connector"] == "google_ads"]
        assert [a["outcome"] for a in attempts] == ["paused", "retryable", "delivered"]
        assert [r["orderId"] for r in fake.conversions] == ["g-auth"]
