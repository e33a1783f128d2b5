"""Meta Conversions API: golden payloads per mapping path, and delivery to the fake Graph API."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.meta import MetaConnector, MetaSettings, appsecret_proof, capi
from relay.exceptions import AuthRejectedError
from relay.sandbox.meta import FakeMeta
from relay.settings import Settings
from relay.types import ConsentVerdict, Delivered, Failed, OutboundEvent, Skipped
from tests.connectors.transport import fake_http

pytestmark = pytest.mark.connectors

TOKEN = "EAAB-test-token-0123456789"
APP_SECRET = "app-secret-0123456789"
PIXEL = "1234567890"
NOW = 1_790_000_000
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


NOW_FIXED = float(int(time.time()))


def make_settings(**overrides: Any) -> MetaSettings:
    block = {"type": "meta", "pixel_id": PIXEL, "access_token": TOKEN, **overrides}
    return MetaSettings.model_validate(block)


def make_connector(client: httpx.AsyncClient | None = None, **overrides: Any) -> MetaConnector:
    return MetaConnector("meta", make_settings(**overrides), client or httpx.AsyncClient())


def make_event(index: int = 0, **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": index,
        "event_id": f"evt-{index}",
        "event_name": "Purchase",
        "event_time": int(time.time()) - 60,
        "event_source_url": "https://shop.example/checkout/done",
        "hashed": {"em": [sha(f"user{index}@example.com")]},
        "ip": "203.0.113.9",
        "user_agent": UA,
        **overrides,
    }
    return OutboundEvent(**fields)


@contextlib.asynccontextmanager
async def served(
    fake: FakeMeta, *, timeout: float = 10.0, real: bool = False, **overrides: Any
) -> AsyncIterator[tuple[MetaConnector, str]]:
    """A connector talking to ``fake`` (in process; over loopback HTTP when ``real``)."""
    async with fake_http(fake.app, real=real, timeout=timeout) as (base, client):
        yield make_connector(client, api_base=base, **overrides), base


def vector_hashes(vectors_dir: Path) -> dict[tuple[str, str], str]:
    examples = json.loads((vectors_dir / "meta_docs_examples.json").read_text())
    return {(e["field"], e["input"]): e["expected_sha256"] for e in examples}


# -- golden payloads


def test_full_purchase_event(vectors_dir: Path) -> None:
    h = vector_hashes(vectors_dir)
    hashed = {
        "em": [h["em", "John_Smith@gmail.com"]],
        "ph": [h["ph", "+1 (650) 555-1212"], h["ph", "16505551234"]],
        "fn": [h["fn", "Mary"]],
        "ln": [h["fn", "Valéry"]],
        "ge": [h["ge", "f"]],
        "db": [h["db", "19970216"]],
        "ct": [h["ct", "London"]],
        "st": [h["st", "ca"]],
        "zp": [h["zp", "94035"]],
        "country": [h["country", "US"]],
        "external_id": [sha("cust-42")],
        "ph_e164": [sha("+16505551212")],  # X's form: not a Meta key
    }
    ids = {"fbp": "fb.1.1596403881668.1116446470", "fbc": "fb.1.1554763741205.AbCdEf"}
    ids |= {"subscription_id": "sub-7", "lead_id": "123456789012345", "twclid": "not-for-meta"}
    custom = {
        "value": 42.5,
        "currency": "EUR",
        "order_id": 1001,
        "contents": [{"id": "sku-1", "quantity": 2, "price": 10.0, "name": "Mug"}],
        "content_type": "product",
        "content_name": "Mug",
        "content_category": "kitchen",
        "num_items": 2,
        "search_string": "mug",
        "status": "paid",
        "predicted_ltv": 300,
        "coupon": "WELCOME10",
    }
    event = make_event(
        event_id="order-1001",
        event_time=NOW - 30,
        referrer_url="https://shop.example/cart",
        hashed=hashed,
        ids=ids,
        custom=custom,
    )
    body = make_connector().request_body([event], now=NOW)
    assert body == {
        "data": [
            {
                "event_name": "Purchase",
                "event_time": NOW - 30,
                "event_id": "order-1001",
                "action_source": "website",
                "event_source_url": "https://shop.example/checkout/done",
                "referrer_url": "https://shop.example/cart",
                "opt_out": False,
                "user_data": {
                    "em": ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"],
                    "ph": [
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
                        "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599",
                    ],
                    "fn": ["6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"],
                    "ln": ["08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"],
                    "ge": ["252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"],
                    "db": ["01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"],
                    "ct": ["6089854c94ca5454b76be6752c562901a985f64c9a946f62976aeab593b83161"],
                    "st": ["6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"],
                    "zp": ["1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e"],
                    "country": ["79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"],
                    "external_id": [sha("cust-42")],
                    "client_ip_address": "203.0.113.9",
                    "client_user_agent": UA,
                    "fbc": "fb.1.1554763741205.AbCdEf",
                    "fbp": "fb.1.1596403881668.1116446470",
                    "subscription_id": "sub-7",
                    "lead_id": "123456789012345",
                },
                "custom_data": {
                    "value": 42.5,
                    "currency": "EUR",
                    "content_ids": ["sku-1"],
                    "contents": [{"id": "sku-1", "quantity": 2, "item_price": 10.0}],
                    "content_type": "product",
                    "content_name": "Mug",
                    "content_category": "kitchen",
                    "order_id": "1001",
                    "num_items": 2,
                    "search_string": "mug",
                    "status": "paid",
                    "predicted_ltv": 300,
                    "coupon": "WELCOME10",
                },
                "data_processing_options": [],
            }
        ],
        "partner_agent": "conversion-relay",
    }


def test_prepare_builds_user_data_once_and_the_same_payload_as_build_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = make_connector()
    events = [
        make_event(i, hashed={"em": [sha(f"u{i}@example.com")], "ph": [sha(f"3312345{i}")]}) for i in range(4)
    ]
    alone = [connector.build(e, now=NOW_FIXED) for e in events]  # no precheck before: nothing to reuse
    calls: list[str] = []
    real = capi.user_data
    monkeypatch.setattr(capi, "user_data", lambda event: calls.append(event.event_id) or real(event))
    monkeypatch.setattr(time, "time", lambda: NOW_FIXED)
    outcomes, built = connector.prepare(events)
    assert outcomes == [None] * 4 and [payload for _, payload in built] == alone
    assert calls == [e.event_id for e in events]  # once per event: the check's, reused by the build
    # precheck and build alone keep nothing between calls: a build after another event's check is its own
    connector.precheck(events[0])
    assert connector.build(events[1], now=NOW_FIXED) == alone[1]
    assert not [k for k in vars(connector) if "check" in k]


def test_minimal_event_has_no_custom_data() -> None:
    event = OutboundEvent(
        delivery_id=1,
        event_id="e-1",
        event_name="Lead",
        event_time=NOW,
        action_source="system_generated",
        hashed={"em": sha("a@b.example")},  # a bare string is sent as a list all the same
    )
    assert make_connector().request_body([event], now=NOW)["data"] == [
        {
            "event_name": "Lead",
            "event_time": NOW,
            "event_id": "e-1",
            "action_source": "system_generated",
            "opt_out": False,
            "user_data": {"em": [sha("a@b.example")]},
            "data_processing_options": [],
        }
    ]


@pytest.mark.parametrize(
    ("ldu", "country", "state"),
    [((1, 1000), 1, 1000), ((0, 0), 0, 0), (None, 0, 0)],
    ids=["CA", "geo", "none"],
)
def test_limited_data_use(ldu: tuple[int, int] | None, country: int, state: int) -> None:
    consent = ConsentVerdict("limited", "us opt-out (gpc)", mode="ldu", ldu=ldu)
    sent = make_connector().request_body([make_event(event_time=NOW, consent=consent)], now=NOW)["data"][0]
    assert sent["data_processing_options"] == ["LDU"]
    assert (sent["data_processing_options_country"], sent["data_processing_options_state"]) == (
        country,
        state,
    )


def test_strip_mode_is_not_ldu() -> None:
    consent = ConsentVerdict("limited", "us opt-out", mode="strip")
    sent = make_connector().request_body([make_event(event_time=NOW, consent=consent)], now=NOW)["data"][0]
    assert sent["data_processing_options"] == []
    assert "data_processing_options_country" not in sent


def test_test_event_code_and_partner_agent() -> None:
    body = make_connector(test_event_code="TEST12345", partner_agent="shop").request_body([make_event()])
    assert (body["test_event_code"], body["partner_agent"]) == ("TEST12345", "shop")
    assert "test_event_code" not in make_connector().request_body([make_event()])


@pytest.mark.anyio
async def test_events_map_renames_and_null_skips() -> None:
    connector = make_connector(events={"Signup": "CompleteRegistration", "Debug": None})
    body = connector.request_body([make_event(event_name="Signup"), make_event(1, event_name="Purchase")])
    assert [e["event_name"] for e in body["data"]] == ["CompleteRegistration", "Purchase"]
    assert connector.skip_reason("Debug") == "event not mapped for meta (events: Debug: null)"
    assert connector.skip_reason("Signup") is None
    outcomes = await connector.deliver([make_event(event_name="Debug")])
    assert outcomes == [Skipped("event not mapped for meta (events: Debug: null)")]


def test_contents_and_content_ids() -> None:
    custom = {"contents": [{"id": 7, "quantity": 1, "item_price": 5}, {"id": "b", "price": 2.5}]}
    data = make_connector().request_body([make_event(custom=custom)])["data"][0]["custom_data"]
    assert data == {
        "content_ids": ["7", "b"],
        "contents": [{"id": "7", "quantity": 1, "item_price": 5}, {"id": "b", "item_price": 2.5}],
    }
    given = {"content_ids": ["x", "y"], "contents": [{"id": "z"}]}
    data = make_connector().request_body([make_event(custom=given)])["data"][0]["custom_data"]
    assert data["content_ids"] == ["x", "y"]


def test_custom_properties_forwarded_after_standard_keys() -> None:
    custom = {"shipping": "express", "value": 5, "currency": "USD", "ab_test": {"variant": "b"}}
    data = make_connector().request_body([make_event(custom=custom)])["data"][0]["custom_data"]
    assert list(data.items()) == [
        ("value", 5),
        ("currency", "USD"),
        ("shipping", "express"),
        ("ab_test", {"variant": "b"}),
    ]


def test_unhashed_or_empty_hash_never_sent() -> None:
    hashed = {"em": ["jane@example.com", sha(""), sha("jane@example.com")], "ph": ["+16505551212"]}
    user = make_connector().request_body([make_event(hashed=hashed)])["data"][0]["user_data"]
    assert user["em"] == [sha("jane@example.com")]
    assert "ph" not in user
    assert "jane@example.com" not in json.dumps(user)


def test_appsecret_proof_and_masked_request() -> None:
    connector = make_connector(app_secret=APP_SECRET)
    expected = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert appsecret_proof(APP_SECRET, TOKEN) == expected
    assert connector.auth_params() == {"access_token": TOKEN, "appsecret_proof": expected}
    described = connector.describe_request([make_event()])
    assert described["url"] == (
        f"https://graph.facebook.com/v26.0/{PIXEL}/events?access_token=***&appsecret_proof=***"
    )
    assert TOKEN not in json.dumps(described) and expected not in json.dumps(described)
    assert connector.mask(f"bad token {TOKEN} proof {expected}") == "bad token *** proof ***"


@pytest.mark.parametrize(
    ("block", "needle"),
    [
        ({"api_version": "v24.0"}, "2026-11-10"),
        ({"api_version": "v22.0"}, "2026-02-19"),
        ({"api_version": "26"}, "not a Graph API version"),
        ({"access_token": ""}, "access token"),
        ({"pixel_id": "12/34"}, "pixel"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"events": {"Signup": ""}}, "null"),
    ],
)
def test_settings_refused(block: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        make_settings(**block)


def test_settings_defaults() -> None:
    settings = make_settings(app_secret="", test_event_code="")
    assert (settings.api_version, settings.api_base, settings.app_secret) == (
        "v26.0",
        "https://graph.facebook.com",
        None,
    )
    assert settings.test_event_code is None
    assert make_settings(api_version="v25.0").api_version == "v25.0"
    assert make_connector(batch_size=300).max_batch == 300
    assert make_connector(batch_size=5000).max_batch == 1000


@pytest.mark.anyio
async def test_local_refusals_are_never_sent() -> None:
    now = int(time.time())
    events = [
        make_event(0, event_time=now - 8 * 86400),
        make_event(1, event_time=now - 30 * 86400, action_source="physical_store"),
        make_event(2, event_time=now - 63 * 86400, action_source="physical_store"),
        make_event(3, event_time=now + 3600),
        make_event(4, user_agent=None),
        make_event(5, hashed={}, ip=None, user_agent=None, action_source="system_generated"),
        make_event(6, consent=ConsentVerdict("deny", "tcf purpose 1 refused")),
    ]
    fake = FakeMeta(access_token=TOKEN)
    async with served(fake) as (connector, _):
        outcomes = await connector.deliver(events)
    assert outcomes[0] == Failed("event older than 7 days; Meta accepts events up to 7 days old")
    assert isinstance(outcomes[1], Delivered)
    assert outcomes[2] == Failed("event older than 62 days; Meta accepts events up to 62 days old")
    assert isinstance(outcomes[3], Failed) and "future" in outcomes[3].message
    assert isinstance(outcomes[4], Failed) and "client_user_agent" in outcomes[4].message
    assert isinstance(outcomes[5], Skipped) and "user_data" in outcomes[5].reason
    assert isinstance(outcomes[6], Skipped) and "consent" in outcomes[6].reason
    assert [e["event_id"] for e in fake.events] == ["evt-1"]
    assert len(fake.requests) == 1


# -- over HTTP, against the fake


@pytest.mark.anyio
async def test_delivers_and_fake_records_the_events() -> None:
    fake = FakeMeta(access_token=TOKEN, app_secret=APP_SECRET)
    async with served(fake, app_secret=APP_SECRET, test_event_code="TEST1") as (connector, _):
        outcomes = await connector.deliver([make_event(0), make_event(1)])
    assert all(isinstance(o, Delivered) and o.status_code == 200 for o in outcomes)
    assert all(isinstance(o, Delivered) and "events_received" in (o.response or "") for o in outcomes)
    assert [(e["event_id"], e["pixel_id"], e["test_event_code"]) for e in fake.events] == [
        ("evt-0", PIXEL, "TEST1"),
        ("evt-1", PIXEL, "TEST1"),
    ]
    request = fake.requests[0]
    assert request.path == f"/v26.0/{PIXEL}/events"
    assert request.query == {"access_token": TOKEN, "appsecret_proof": appsecret_proof(APP_SECRET, TOKEN)}


@pytest.mark.anyio
@pytest.mark.parametrize(("batch_size", "requests"), [(None, [1000, 1000, 500]), (700, [700, 700, 700, 400])])
async def test_batching(batch_size: int | None, requests: list[int]) -> None:
    fake = FakeMeta(access_token=TOKEN)
    events = [make_event(i) for i in range(2500)]
    async with served(fake, batch_size=batch_size) as (connector, _):
        outcomes = await connector.deliver(events)
    assert [len(r.json["data"]) for r in fake.requests] == requests
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert len({e["event_id"] for e in fake.events}) == 2500


@pytest.mark.anyio
async def test_mounted_under_sandbox_prefix() -> None:
    fake = FakeMeta(access_token=TOKEN)
    app = Starlette(routes=[Mount("/sandbox/meta", app=fake.app)])
    async with fake_http(app) as (base, client):
        connector = make_connector(client, api_base=f"{base}/sandbox/meta")
        outcomes = await connector.deliver([make_event()])
        state = (await client.get(f"{base}/sandbox/meta/_state")).json()
    assert isinstance(outcomes[0], Delivered)
    assert (state["events"], state["audiences"]) == (1, {})
    assert [e["event_id"] for e in state["recent_events"]] == ["evt-0"]


@pytest.mark.anyio
async def test_send_test_prints_masked_request_and_response() -> None:
    fake = FakeMeta(access_token=TOKEN, app_secret=APP_SECRET)
    async with served(fake, app_secret=APP_SECRET, test_event_code="TEST9") as (connector, base):
        request, response = await connector.send_test(make_event())
    assert request["method"] == "POST"
    assert request["url"] == f"{base}/v26.0/{PIXEL}/events?access_token=***&appsecret_proof=***"
    assert request["json"]["test_event_code"] == "TEST9"
    assert response["status_code"] == 200 and response["body"]["events_received"] == 1
    assert TOKEN not in json.dumps([request, response])


# -- the fake refuses what Meta refuses


async def post_events(
    http: tuple[str, httpx.AsyncClient], data: list[dict[str, Any]], token: str = TOKEN
) -> httpx.Response:
    base, client = http
    return await client.post(
        f"{base}/v26.0/{PIXEL}/events", params={"access_token": token}, json={"data": data}
    )


def raw_event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 10,
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {"em": [sha("a@b.example")], "client_user_agent": UA},
        **overrides,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("event", "needle"),
    [
        (raw_event(event_time=int(time.time()) - 8 * 86400), "more than 7 days"),
        (raw_event(user_data={"em": "jane@example.com", "client_user_agent": UA}), "user_data.em"),
        (raw_event(user_data={"em": [sha("x")]}), "client_user_agent"),
        (raw_event(event_source_url=None), "event_source_url"),
        (raw_event(user_data={}), "at least one"),
        (raw_event(action_source="web"), "action_source"),
        (raw_event(data_processing_options=["LDU"]), "data_processing_options_country"),
        (raw_event(event_time="yesterday"), "integer"),
    ],
)
async def test_fake_rejects_what_meta_rejects(event: dict[str, Any], needle: str) -> None:
    fake = FakeMeta(access_token=TOKEN)
    async with fake_http(fake.app) as http:
        response = await post_events(http, [raw_event(), event])
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == 100
    assert "event 1:" in error["message"] and needle in error["message"]
    assert fake.events == []


@pytest.mark.anyio
async def test_fake_checks_token_version_and_batch_size() -> None:
    fake = FakeMeta(access_token=TOKEN)
    async with fake_http(fake.app) as (base, client):
        wrong = await post_events((base, client), [raw_event()], token="other")
        too_many = await post_events((base, client), [raw_event()] * 1001)
        old = await client.post(f"{base}/v24.0/{PIXEL}/events", params={"access_token": TOKEN}, json={})
        ok = await post_events(
            (base, client),
            [raw_event(event_time=int(time.time()) - 61 * 86400, action_source="physical_store")],
        )
    assert wrong.json()["error"]["code"] == 190
    assert too_many.json()["error"]["code"] == 100
    assert old.json()["error"]["code"] == 2635
    assert ok.json()["events_received"] == 1 and len(fake.events) == 1


@pytest.mark.anyio
async def test_sandbox_fake_expects_the_configured_credentials() -> None:
    async with fake_http(app := Starlette()) as (base, client):
        block = make_settings(api_base=f"{base}/sandbox/meta", app_secret=APP_SECRET)
        settings = Settings(connectors={"meta": block, "other": make_settings(access_token="not-sandboxed")})
        fake = FakeMeta.for_settings(settings)
        app.router.routes.append(Mount("/sandbox/meta", app=fake.app))
        good = make_connector(client, api_base=f"{base}/sandbox/meta", app_secret=APP_SECRET)
        delivered = await good.deliver([make_event()])
        with pytest.raises(AuthRejectedError, match="appsecret_proof"):
            await make_connector(client, api_base=f"{base}/sandbox/meta").deliver([make_event()])
        with pytest.raises(AuthRejectedError, match="code 190"):
            await make_connector(client, api_base=f"{base}/sandbox/meta", access_token="other-token").deliver(
                [make_event()]
            )
    assert isinstance(delivered[0], Delivered) and len(fake.events) == 1
    assert fake.credentials == {TOKEN: APP_SECRET}
