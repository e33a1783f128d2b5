"""Snapchat Conversions API v3: golden payloads and delivery to the strict fake."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.snap import SnapConnector, SnapSettings
from relay.exceptions import AuthRejectedError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.snap import FakeSnap
from relay.types import ConsentVerdict, Delivered, Failed, Retry, Skipped

from .platform_kit import UA, asgi_client, make_event, sha

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
TOKEN = "snap-token-0123456789"
PIXEL = "2d1c4d6e-0b6b-4a9f-9d3c-5e2a1f0c7b88"


def connector(fake: FakeSnap | None = None, **overrides: Any) -> SnapConnector:
    settings = SnapSettings.model_validate(
        {"pixel_id": PIXEL, "access_token": TOKEN, "api_base": "http://fake", **overrides}
    )
    return SnapConnector("snap", settings, asgi_client((fake or FakeSnap(access_tokens={TOKEN})).app))


def test_golden_payload() -> None:
    event = make_event(
        1,
        event_time=1_790_000_000,
        ids={"sc_click_id": "sc-click-1", "scid": "scid-cookie", "madid": "AEBE52E7-03EE"},
        custom={
            "value": 42.5,
            "currency": "usd",
            "order_id": "o-1",
            "contents": [{"id": "sku-1", "quantity": 2, "price": 21.25}],
        },
        consent=ConsentVerdict("limited", "gpc", "ldu", (1, 1000)),
    )
    assert connector().build(event) == {
        "event_name": "PURCHASE",
        "event_time": 1_790_000_000,
        "event_id": "evt-1",
        "action_source": "WEB",
        "event_source_url": "https://shop.example/checkout/done",
        "user_data": {
            "em": [sha("user1@example.com")],
            "ph": [sha("16505551212")],  # digits only, no "+"
            "fn": [sha("jane")],
            "country": [sha("us")],
            "sc_click_id": "sc-click-1",
            "sc_cookie1": "scid-cookie",
            "madid": "aebe52e7-03ee",
            "client_ip_address": "203.0.113.9",
            "client_user_agent": UA,
        },
        "custom_data": {
            "currency": "USD",
            "value": 42.5,
            "content_ids": ["sku-1"],
            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 21.25}],
            "num_items": 2,
            "order_id": "o-1",
        },
        "data_processing_options": ["LDU"],
        "data_processing_options_country": 1,
        "data_processing_options_state": 1000,
    }


def test_unmapped_names_and_identifiers_are_skipped() -> None:
    c = connector(events={"Lead": "SIGN_UP"})
    assert c.skip_reason("Lead") is None and c.build(make_event(event_name="Lead"))["event_name"] == "SIGN_UP"
    assert "map it under events" in (c.skip_reason("Contact") or "")
    assert isinstance(c.precheck(make_event(hashed={}, ip=None)), Skipped)
    assert c.precheck(make_event(hashed={}, ip=None, ids={"scid": "x"})) is None


async def test_batch_delivered_and_one_bad_event_isolated() -> None:
    fake = FakeSnap(access_tokens={TOKEN}, pixel_ids={PIXEL})
    stale = make_event(1, event_time=int(time.time()) - 8 * 86400)  # Snap refuses it: the whole request fails
    outcomes = await connector(fake).deliver([make_event(0), stale, make_event(2)])
    assert [type(o) for o in outcomes] == [Delivered, Failed, Delivered]
    assert "older than 7 days" in outcomes[1].message  # type: ignore[union-attr]
    assert sorted(e["event_id"] for e in fake.events) == ["evt-0", "evt-2"]
    assert all(r.query["access_token"] == TOKEN for r in fake.requests)


async def test_batches_of_at_most_2000() -> None:
    fake = FakeSnap(access_tokens={TOKEN})
    await connector(fake).deliver([make_event(i) for i in range(2001)])
    assert [len(json.loads(r.body)["data"]) for r in fake.requests] == [2000, 1]


async def test_validate_only_records_nothing() -> None:
    fake = FakeSnap(access_tokens={TOKEN})
    assert isinstance((await connector(fake, validate_only=True).deliver([make_event()]))[0], Delivered)
    assert fake.requests[0].path.endswith("/events/validate") and fake.events == []


async def test_bad_token_pauses_and_is_masked() -> None:
    with pytest.raises(AuthRejectedError) as caught:
        await connector(FakeSnap(access_tokens={"other"})).deliver([make_event()])
    assert caught.value.status_code == 401 and TOKEN not in caught.value.message


async def test_rate_limit_is_retried() -> None:
    fake = FakeSnap(access_tokens={TOKEN})
    fake.script(ScriptedResponse(429, {"status": "RATE_LIMITED"}, headers={"Retry-After": "12"}))
    c = connector(fake)
    first = (await c.deliver([make_event()]))[0]
    assert isinstance(first, Retry) and first.retry_after == 12
    assert isinstance((await c.deliver([make_event()]))[0], Delivered)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="Snap Pixel id"):
        SnapSettings.model_validate({"pixel_id": "../x", "access_token": TOKEN})
