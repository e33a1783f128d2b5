"""Pinterest API v5 Conversions: golden payloads and delivery to the strict fake."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.pinterest import PinterestConnector, PinterestSettings
from relay.exceptions import AuthRejectedError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.pinterest import FakePinterest
from relay.types import Delivered, Failed, Retry, Skipped

from .platform_kit import UA, asgi_client, make_event, sha

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
TOKEN = "pina-token-0123456789"
ACCOUNT = "549755885175"


def connector(fake: FakePinterest | None = None, **overrides: Any) -> PinterestConnector:
    block = {"ad_account_id": ACCOUNT, "access_token": TOKEN, "api_base": "http://fake", **overrides}
    fake = fake or FakePinterest(access_tokens={TOKEN})
    return PinterestConnector("pinterest", PinterestSettings.model_validate(block), asgi_client(fake.app))


def test_golden_payload() -> None:
    event = make_event(
        2,
        event_time=1_790_000_000,
        opt_out=True,
        ids={"epik": "dj0yJnU9abc", "madid": "AEBE52E7"},
        custom={
            "value": 42.5,
            "currency": "eur",
            "order_id": 7,
            "contents": [{"id": "sku-1", "quantity": 2, "price": 21.25, "name": "Mug"}],
        },
    )
    assert connector().build(event) == {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": 1_790_000_000,
        "event_id": "evt-2",
        "event_source_url": "https://shop.example/checkout/done",
        "opt_out": True,
        "user_data": {
            "em": [sha("user2@example.com")],
            "ph": [sha("16505551212")],  # digits only, no "+"
            "fn": [sha("jane")],
            "country": [sha("us")],
            "hashed_maids": [sha("aebe52e7")],
            "client_ip_address": "203.0.113.9",
            "client_user_agent": UA,
            "click_id": "dj0yJnU9abc",
        },
        "custom_data": {
            "currency": "EUR",
            "value": "42.5",  # Pinterest wants value and item_price as strings
            "content_ids": ["sku-1"],
            "contents": [{"id": "sku-1", "item_price": "21.25", "quantity": 2, "item_name": "Mug"}],
            "num_items": 2,
            "order_id": "7",
        },
    }


def test_names_sources_and_identifiers() -> None:
    c = connector()
    assert c.build(make_event(event_name="MyThing"))["event_name"] == "custom"
    assert c.build(make_event(action_source="physical_store"))["action_source"] == "offline"
    assert isinstance(c.precheck(make_event(action_source="app")), Skipped)
    assert isinstance(c.precheck(make_event(hashed={}, ip=None, ids={"epik": "x"})), Skipped)
    with pytest.raises(ValidationError, match="ldu"):
        PinterestSettings.model_validate(
            {"ad_account_id": ACCOUNT, "access_token": TOKEN, "consent": {"us_opt_out": "ldu"}}
        )


async def test_per_event_statuses_isolate_a_bad_event() -> None:
    fake = FakePinterest(access_tokens={TOKEN}, ad_account_ids={ACCOUNT})
    stale = make_event(1, event_time=int(time.time()) - 8 * 86400)
    outcomes = await connector(fake).deliver([make_event(0), stale, make_event(2)])
    assert [type(o) for o in outcomes] == [Delivered, Failed, Delivered]
    assert len(fake.requests) == 1  # no bisection needed: Pinterest answers per event
    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert sorted(e["event_id"] for e in fake.events) == ["evt-0", "evt-2"]


async def test_batches_of_at_most_1000_and_test_mode() -> None:
    fake = FakePinterest(access_tokens={TOKEN})
    await connector(fake, test=True).deliver([make_event(i) for i in range(1001)])
    assert [len(json.loads(r.body)["data"]) for r in fake.requests] == [1000, 1]
    assert fake.requests[0].query == {"test": "true"} and fake.events == []


async def test_bad_token_pauses() -> None:
    with pytest.raises(AuthRejectedError) as caught:
        await connector(FakePinterest(access_tokens={"other"})).deliver([make_event()])
    assert "Authentication failed" in caught.value.message and TOKEN not in caught.value.message


async def test_rate_limit_is_retried() -> None:
    fake = FakePinterest(access_tokens={TOKEN})
    fake.script(ScriptedResponse(429, {"code": 8, "message": "Rate limit exceeded"}))
    c = connector(fake)
    first = (await c.deliver([make_event()]))[0]
    assert isinstance(first, Retry) and first.retry_after == 60
    assert isinstance((await c.deliver([make_event()]))[0], Delivered)
