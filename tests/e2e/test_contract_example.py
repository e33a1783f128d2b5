"""The event of CONTRACT §4.1, verbatim, through the example policies: delivered to Meta and X."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from relay.testing import free_port
from tests.e2e.harness import run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE: dict[str, Any] = {
    "event_name": "Purchase",
    "event_id": "order-1001",
    "action_source": "website",
    "event_source_url": "https://shop.example/checkout/done",
    "referrer_url": "https://shop.example/cart",
    "user": {
        "email": "Jane.Doe@Example.com",
        "phone": ["+1 (650) 555-1212", "+1 650 555 0000"],
        "first_name": "Jane",
        "last_name": "Doe",
        "gender": "f",
        "date_of_birth": "1990-02-16",
        "city": "Menlo Park",
        "state": "CA",
        "zip": "94025",
        "country": "US",
        "external_id": "cust-42",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 ...",
        "fbp": "fb.1.1596403881668.1116446470",
        "fbc": "fb.1.1554763741205.AbCdEf",
        "twclid": "23opevjt88psuo13lu8d020qkn",
        "ttclid": "E.C.P.abc",
        "ttp": "...",
        "subscription_id": "...",
        "lead_id": "...",
        "madid": "...",
    },
    "custom": {
        "value": 42.5,
        "currency": "EUR",
        "order_id": "1001",
        "contents": [{"id": "sku-1", "quantity": 2, "price": 10.0, "name": "Mug"}],
        "content_type": "product",
        "content_name": "Mug",
        "content_category": "kitchen",
        "num_items": 2,
        "search_string": "mug",
        "status": "paid",
    },
    "consent": {
        "tcf": "CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A",
        "gdpr_applies": True,
        "gpp": None,
        "gpp_sid": None,
        "usp": "1YNN",
        "gcm": {
            "ad_storage": "granted",
            "ad_user_data": "granted",
            "ad_personalization": "denied",
            "analytics_storage": "granted",
        },
        "gpc": False,
    },
    "opt_out": False,
}


async def test_the_contract_example_reaches_meta_and_x(tmp_path: Path) -> None:
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())["connectors"]
    port = free_port()
    base = f"http://127.0.0.1:{port}/sandbox"
    connectors = {
        "meta": {**example["meta"], "access_token": "sandbox-meta-token", "api_base": f"{base}/meta"},
        "x": {
            **example["x"],
            **{
                k: f"sandbox-{k.replace('_', '-')}"
                for k in ("consumer_key", "consumer_secret", "access_token")
            },
            "access_token_secret": "sandbox-access-token-secret",
            "api_base": f"{base}/x",
        },
    }
    consent = {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "deny"}}
    async with run_relay(tmp_path, port=port, connectors=connectors, consent=consent) as relay:
        response = await relay.post_events(EXAMPLE)
        assert response.json() == {"accepted": 1, "rejected": []}
        meta = await relay.wait_status("order-1001", "meta", "delivered")
        x = await relay.wait_status("order-1001", "x", "delivered")
        assert meta["consent"]["decision"] == x["consent"]["decision"] == "allow"
        [sent] = relay.fake("meta").events
        assert sent["event_name"] == "Purchase" and sent["test_event_code"] == "TEST12345"
        assert len(sent["user_data"]["ph"]) == 2 and sent["custom_data"]["value"] == 42.5
        [conversion] = relay.fake("x").conversions
        assert conversion["conversion_id"] == "order-1001" and conversion["event_id"] == "o87ne"
