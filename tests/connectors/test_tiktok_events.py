"""TikTok Events API 2.0 and custom audiences: golden payloads and delivery to the strict fake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.tiktok import TikTokConnector, TikTokSettings
from relay.exceptions import AuthRejectedError
from relay.normalize import member_from_row
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.tiktok import FakeTikTok
from relay.types import ConsentVerdict, Delivered, Failed, Retry, Skipped

from .platform_kit import UA, asgi_client, make_event, sha

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
TOKEN = "tt-token-0123456789"
PIXEL = "CABC123DEF456GHI789J"


def connector(fake: FakeTikTok | None = None, **overrides: Any) -> TikTokConnector:
    block = {"pixel_code": PIXEL, "access_token": TOKEN, "api_base": "http://fake", **overrides}
    settings = TikTokSettings.model_validate(block)
    fake = fake or FakeTikTok(access_tokens={TOKEN}, pixel_codes={PIXEL})
    return TikTokConnector("tiktok", settings, asgi_client(fake.app))


def test_golden_payload() -> None:
    event = make_event(
        3,
        event_time=1_790_000_000,
        referrer_url="https://shop.example/cart",
        ids={"ttclid": "E.C.P.abc", "ttp": "2Xk9abc", "fbp": "fb.1.1.1"},
        custom={
            "value": 42.5,
            "currency": "eur",
            "order_id": 1001,
            "contents": [{"id": "sku-1", "quantity": 2, "price": 21.25, "name": "Mug", "brand": "Acme"}],
            "search_string": "mug",
        },
        consent=ConsentVerdict("limited", "gpc", "ldu", (0, 0)),
    )
    c = connector(test_event_code="TEST123")
    assert c.request_body([c.build(event)]) == {
        "event_source": "web",
        "event_source_id": PIXEL,
        "test_event_code": "TEST123",
        "data": [
            {
                "event": "CompletePayment",
                "event_time": 1_790_000_000,
                "event_id": "evt-3",
                "user": {
                    "email": [sha("user3@example.com")],
                    "phone": [sha("+16505551212")],  # E.164 with "+", unlike Snap and Pinterest
                    "ttclid": "E.C.P.abc",
                    "ttp": "2Xk9abc",
                    "ip": "203.0.113.9",
                    "user_agent": UA,
                },
                "properties": {
                    "value": 42.5,
                    "currency": "EUR",
                    "contents": [
                        {
                            "content_id": "sku-1",
                            "content_name": "Mug",
                            "brand": "Acme",
                            "price": 21.25,
                            "quantity": 2,
                        }
                    ],
                    "content_type": "product",
                    "order_id": "1001",
                    "query": "mug",
                    "num_items": 2,
                },
                "page": {
                    "url": "https://shop.example/checkout/done",
                    "referrer": "https://shop.example/cart",
                },
                "limited_data_use": True,
            }
        ],
    }


def test_event_names_overrides_and_skips() -> None:
    c = connector(events={"Signup": "CompleteRegistration", "Debug": None})
    assert c.build(make_event(event_name="Signup"))["event"] == "CompleteRegistration"
    assert c.build(make_event(event_name="MyCustom"))["event"] == "MyCustom"
    assert c.skip_reason("Debug") and c.skip_reason("Purchase") is None
    assert isinstance(c.precheck(make_event(action_source="physical_store")), Skipped)
    assert isinstance(c.precheck(make_event(hashed={}, ip=None)), Skipped)
    assert c.precheck(make_event(hashed={}, ip=None, ids={"ttclid": "E.C.P.x"})) is None
    assert c.acceptance_window("website") == 7 * 86400


async def test_batch_delivered_and_one_bad_event_isolated() -> None:
    fake = FakeTikTok(access_tokens={TOKEN}, pixel_codes={PIXEL})
    c = connector(fake)
    bad = make_event(1, hashed={"em": ["not-a-hash"]})  # bypasses the connector's own filtering below
    events = [make_event(0), bad, make_event(2), make_event(3)]
    original = c.build

    def build(event: Any) -> dict[str, Any]:
        item = original(event)
        if event is bad:
            item["user"]["email"] = ["jane@example.com"]  # unhashed: TikTok answers 40062
        return item

    c.build = build  # type: ignore[method-assign]
    outcomes = await c.deliver(events)
    assert [type(o) for o in outcomes] == [Delivered, Failed, Delivered, Delivered]
    assert "40062" in outcomes[1].message  # type: ignore[union-attr]
    assert sorted(e["event_id"] for e in fake.events) == ["evt-0", "evt-2", "evt-3"]
    assert all(json.loads(r.body)["event_source_id"] == PIXEL for r in fake.requests)


async def test_batches_of_at_most_1000() -> None:
    fake = FakeTikTok(access_tokens={TOKEN})
    outcomes = await connector(fake).deliver([make_event(i) for i in range(1500)])
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert [len(json.loads(r.body)["data"]) for r in fake.requests] == [1000, 500]


async def test_invalid_token_pauses_and_is_masked() -> None:
    fake = FakeTikTok(access_tokens={"another-token"})
    with pytest.raises(AuthRejectedError) as caught:
        await connector(fake).deliver([make_event()])
    assert "40105" in caught.value.message and TOKEN not in caught.value.message


async def test_rate_limit_and_server_errors_are_retried() -> None:
    fake = FakeTikTok(access_tokens={TOKEN})
    fake.script(
        ScriptedResponse(200, {"code": 40100, "message": "Too many requests", "request_id": "r1"}),
        ScriptedResponse(503, {"code": 50002, "message": "timeout"}, headers={"Retry-After": "7"}),
        ScriptedResponse(429, "slow down", headers={"Retry-After": "30"}),
    )
    c = connector(fake)
    first = (await c.deliver([make_event()]))[0]
    assert isinstance(first, Retry) and first.retry_after == 60
    assert isinstance((await c.deliver([make_event()]))[0], Retry)
    third = (await c.deliver([make_event()]))[0]
    assert isinstance(third, Retry) and third.retry_after == 30
    assert isinstance((await c.deliver([make_event()]))[0], Delivered)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="pixel code"):
        TikTokSettings.model_validate({"pixel_code": "a/b", "access_token": TOKEN})
    with pytest.raises(ValidationError, match="access token"):
        TikTokSettings.model_validate({"pixel_code": PIXEL, "access_token": " "})
    assert TikTokSettings.model_validate({"pixel_code": PIXEL, "access_token": TOKEN}).api_base.startswith(
        "https://"
    )


async def test_custom_audience_add_and_remove() -> None:
    fake = FakeTikTok(access_tokens={TOKEN, "mkt-token"}, advertiser_ids={"700"})
    c = connector(fake, advertiser_id="700", audience_access_token="mkt-token")
    jane, _ = member_from_row({"email": "jane@example.com", "phone": "+1 650 555 1212"})
    maid, _ = member_from_row({"madid": "AEBE52E7-03EE-455A-B3C4-E57283966239"})
    assert jane is not None and maid is not None
    result = await c.audience_add("aud-1", [jane, maid])
    assert result.received == 2 and result.invalid == 0
    body = json.loads(fake.requests[-1].body)
    assert body["advertiser_ids"] == ["700"] and body["action"] == "add"
    assert body["id_schema"] == ["EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256"]
    assert body["batch_data"][0] == [
        {"id": sha("jane@example.com"), "audience_ids": ["aud-1"]},
        {"id": sha("+16505551212"), "audience_ids": ["aud-1"]},
        {},
    ]
    assert body["batch_data"][1][2] == {
        "id": sha("aebe52e7-03ee-455a-b3c4-e57283966239"),
        "audience_ids": ["aud-1"],
    }
    assert fake.requests[-1].headers["access-token"] == "mkt-token"
    assert len(fake.audiences["aud-1"]) == 2
    await c.audience_remove("aud-1", [jane])
    assert len(fake.audiences["aud-1"]) == 1


async def test_audience_needs_an_advertiser() -> None:
    from relay.exceptions import PermanentDeliveryError
    from relay.types import AudienceMember

    with pytest.raises(PermanentDeliveryError, match="advertiser_id"):
        await connector().audience_add("aud-1", [AudienceMember(hashed={"em": [sha("a@b.c")]})])
