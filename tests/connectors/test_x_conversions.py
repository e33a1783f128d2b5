"""X Conversions API: settings, golden payloads, hashing vectors, delivery to the fake X over real HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.x import XConnector, XRateLimiter, XSettings
from connectors.x.conversions import NO_IDENTIFIER, conversion_time, no_tag_reason, to_conversion
from relay.exceptions import AuthRejectedError, RateLimitedError
from relay.normalize import hash_user
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.x import FakeX
from relay.testing import free_port
from relay.types import Delivered, Failed, OutboundEvent, Outcome, Retry, Skipped
from tests.connectors.transport import fake_http

pytestmark = pytest.mark.connectors

CONSUMER_KEY, CONSUMER_SECRET = "ck-relay-0123456789", "cs-relay-secret-0123456789"
ACCESS_TOKEN, TOKEN_SECRET = "1234-at-relay-0123456789", "ats-relay-secret-0123456789"
PIXEL_TOKEN = "px-token-0123456789abcdef"
PIXEL, ACCOUNT = "o8z6j", "18ce54d4x5t"
TAGS = {
    "Purchase": "o87ne",
    "Lead": "tw-o8z6j-o87nf",
    "AddToCart": "o87ng",
    "Bundle": "o8set",
    "Alien": "o9zzz",
}
NOW = 1_790_000_000
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
TWCLID = "23opevjt88psuo13lu8d020qkn"
OAUTH = {
    "consumer_key": CONSUMER_KEY,
    "consumer_secret": CONSUMER_SECRET,
    "access_token": ACCESS_TOKEN,
    "access_token_secret": TOKEN_SECRET,
}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def make_settings(**overrides: Any) -> XSettings:
    block = {"type": "x", "pixel_id": PIXEL, "event_tags": TAGS, "ads_account_id": ACCOUNT, **OAUTH}
    return XSettings.model_validate({**block, **overrides})


def make_fake(**overrides: Any) -> FakeX:
    """The fake X: the tags of TAGS are the account's, except ``o8set`` (not a single tag) and ``o9zzz``."""
    params: dict[str, Any] = {**OAUTH, "pixel_id": PIXEL, "ads_account_id": ACCOUNT}
    params |= {"event_tags": ["o87ne", "o87nf", "o87ng"], "set_tags": ["o8set"]}
    return FakeX(**(params | overrides))


def make_event(index: int = 0, **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": index,
        "event_id": f"order-{index}",
        "event_name": "Purchase",
        "event_time": NOW,
        "hashed": {"em": [sha(f"user{index}@example.com")]},
        "ip": "203.0.113.9",
        "user_agent": UA,
        **overrides,
    }
    return OutboundEvent(**fields)


@contextlib.asynccontextmanager
async def served(
    fake: FakeX,
    *,
    timeout: float = 10.0,
    real: bool = False,
    settings: XSettings | None = None,
    **overrides: Any,
) -> AsyncIterator[XConnector]:
    """A connector talking to ``fake`` (in process; over loopback HTTP when ``real``)."""
    async with fake_http(fake.app, real=real, timeout=timeout) as (base, client):
        block = settings.model_copy(update={"api_base": base}) if settings else make_settings(api_base=base)
        yield XConnector("x", block.model_copy(update=overrides) if overrides else block, client)


def statuses(outcomes: list[Outcome] | Any) -> list[str]:
    return [type(o).__name__ for o in outcomes]


# -- settings


def test_settings_accept_both_auth_modes_and_mask_secrets() -> None:
    oauth = make_settings()
    token = XSettings.model_validate({"type": "x", "pixel_id": PIXEL, "pixel_token": PIXEL_TOKEN})
    assert oauth.has_oauth and not token.has_oauth
    assert oauth.api_base == "https://ads-api.x.com"
    assert (
        token.audience_problem()
        == "X Custom Audiences need OAuth 1.0a credentials (the pixel_token does not apply)"
    )
    assert oauth.audience_problem() is None
    assert make_settings(ads_account_id="").audience_problem() == "X Custom Audiences need ads_account_id"
    connector = XConnector("x", oauth, httpx.AsyncClient())
    assert connector.mask(f"{CONSUMER_SECRET} and {TOKEN_SECRET} and {ACCESS_TOKEN}") == "*** and *** and ***"
    assert connector.capabilities == frozenset({"conversions", "audiences"})
    assert (connector.max_batch, XConnector.max_audience_batch, XConnector.type_name) == (500, 2500, "x")
    assert XConnector("x", make_settings(batch_size=100), httpx.AsyncClient()).max_batch == 100


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"access_token_secret": None}, "missing: access_token_secret"),
        ({k: None for k in OAUTH}, "or a pixel_token"),
        ({"consumer_key": ""} | {k: None for k in OAUTH if k != "consumer_key"}, "or a pixel_token"),
        ({"event_tags": {"Purchase": "tw-other-o87ne"}}, "event_tags.Purchase"),
        ({"event_tags": {"Purchase": "O87NE!"}}, "event_tags.Purchase"),
        ({"pixel_id": "O8Z6J"}, "base36"),
        ({"consent": {"us_opt_out": "ldu"}}, "Meta-only"),
        ({"audience_expiry_days": 400}, "audience_expiry_days"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_settings_refuse_bad_blocks(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        make_settings(**overrides)


def test_skip_reason_names_the_missing_tag() -> None:
    connector = XConnector("x", make_settings(), httpx.AsyncClient())
    assert connector.skip_reason("Purchase") is None
    assert connector.skip_reason("PageView") == "no X event tag for event 'PageView' (event_tags)"


# -- golden payloads


def test_conversion_time_is_utc_with_milliseconds() -> None:
    assert conversion_time(1645146840.603) == "2022-02-18T01:14:00.603Z"
    assert conversion_time(1645146840) == "2022-02-18T01:14:00.000Z"
    assert conversion_time(1.0016) == "1970-01-01T00:00:01.002Z"
    assert conversion_time(1645146840.9996) == "2022-02-18T01:14:01.000Z"


def test_full_purchase() -> None:
    event = make_event(
        event_id="order-1001",
        event_time=1645146840,
        hashed={
            "em": [sha("jane.doe@example.com")],
            "ph": [sha("16505551212")],
            "ph_e164": [sha("+16505551212")],
        },
        ids={"twclid": TWCLID, "fbp": "fb.1.1596403881668.1116446470"},
        custom={
            "value": 42.5,
            "currency": "eur",
            "order_id": "1001",
            "contents": [{"id": "sku-1", "quantity": 2, "price": 10.0, "name": "Mug"}],
            "content_type": "product",
            "content_name": "Mug",
            "num_items": 2,
            "coupon": "WELCOME10",
        },
    )
    assert XConnector("x", make_settings(), httpx.AsyncClient()).request_body([event]) == {
        "conversions": [
            {
                "conversion_time": "2022-02-18T01:14:00.000Z",
                "event_id": "o87ne",
                "identifiers": [
                    {"twclid": TWCLID},
                    {"hashed_email": sha("jane.doe@example.com")},
                    {"hashed_phone_number": sha("+16505551212")},
                    {"ip_address": "203.0.113.9", "user_agent": UA},
                ],
                "conversion_id": "order-1001",
                "value": 42.5,
                "price_currency": "EUR",
                "number_items": 2,
                "description": "Mug",
                "contents": [
                    {"content_id": "sku-1", "content_name": "Mug", "content_price": 10.0, "num_items": 2}
                ],
            }
        ]
    }


def test_multiple_emails_and_phones_give_one_identifier_each() -> None:
    emails = [sha("a@example.com"), sha("b@example.com").upper(), sha("a@example.com"), "not-a-hash"]
    event = make_event(hashed={"em": emails, "ph_e164": [sha("+16505551212"), sha("+33612345678")]}, ip=None)
    assert to_conversion(event, "o87ne")["identifiers"] == [
        {"hashed_email": sha("a@example.com")},
        {"hashed_email": sha("b@example.com")},
        {"hashed_phone_number": sha("+16505551212")},
        {"hashed_phone_number": sha("+33612345678")},
        {"user_agent": UA},
    ]


def test_contents_mapping() -> None:
    custom = {
        "value": "19.90",
        "contents": [
            {"id": 111, "quantity": 3, "price": "4.5", "name": "Pen", "type": "stationery", "group_id": 7},
            {"id": "sku-2", "category": "paper", "quantity": 0},
            {"quantity": 1},
            "junk",
        ],
        "description": "back to school",
        "content_name": "ignored when a description is given",
    }
    conversion = to_conversion(make_event(custom=custom), "o87ne")
    assert conversion["contents"] == [
        {
            "content_id": "111",
            "content_name": "Pen",
            "content_price": 4.5,
            "content_type": "stationery",
            "num_items": 3,
            "content_group_id": "7",
        },
        {"content_id": "sku-2", "content_type": "paper"},
        {"num_items": 1},
    ]
    assert (conversion["value"], conversion["number_items"], conversion["description"]) == (
        19.9,
        4,
        "back to school",
    )
    assert "price_currency" not in conversion
    by_ids = to_conversion(make_event(custom={"content_ids": ["a", "", "b"], "currency": "EURO"}), "o87ne")
    assert by_ids["contents"] == [{"content_id": "a"}, {"content_id": "b"}] and "price_currency" not in by_ids


def test_minimal_twclid_only_conversion_and_the_long_tag_form() -> None:
    event = make_event(event_name="Lead", hashed={}, ids={"twclid": f" {TWCLID} "}, ip=None, user_agent=None)
    body = XConnector("x", make_settings(), httpx.AsyncClient()).request_body([event])
    assert body == {
        "conversions": [
            {
                "conversion_time": "2026-09-21T14:13:20.000Z",
                "event_id": "tw-o8z6j-o87nf",
                "identifiers": [{"twclid": TWCLID}],
                "conversion_id": "order-0",
            }
        ]
    }


def test_x_hashing_vectors_reach_the_payload(vectors_dir: Path) -> None:
    vectors = json.loads((vectors_dir / "x_hashing_vectors.json").read_text())["vectors"]
    capi = [v for v in vectors if v["platform"] == "x_capi"]
    assert len(capi) >= 3
    for vector in capi:
        assert sha(vector["normalized_input"]) == vector["sha256"]
        key = "em" if vector["field"] == "hashed_email" else "ph_e164"
        raw = {"email": f"  {vector['normalized_input'].upper()} "} if key == "em" else {}
        raw = raw or {"phone": vector["normalized_input"]}
        hashed = hash_user(raw).hashed  # the relay's own normalisation, as events are stored
        assert hashed[key] == [vector["sha256"]]
        identifiers = to_conversion(make_event(hashed=hashed), "o87ne")["identifiers"]
        assert {vector["field"]: vector["sha256"]} in identifiers
    for vector in vectors:
        if not vector["verified"]:  # the doc's salted examples: not plain SHA-256
            assert sha(vector["normalized_input"]) != vector["sha256_claimed_by_doc"]


# -- over HTTP


@pytest.mark.anyio
async def test_batches_of_500_and_debug_id_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = make_fake()
    events = [make_event(i) for i in range(1200)]
    caplog.set_level(logging.INFO, logger="relay.connectors.x")
    async with served(fake) as connector:
        outcomes = list(await connector.deliver(events))
    assert [len(r.json["conversions"]) for r in fake.requests] == [500, 500, 200]
    assert all(isinstance(o, Delivered) and o.status_code == 200 for o in outcomes) and len(outcomes) == 1200
    assert [c["conversion_id"] for c in fake.conversions] == [f"order-{i}" for i in range(1200)]
    first = outcomes[0]
    assert isinstance(first, Delivered) and first.response
    debug_id = re.fullmatch(r"conversions_processed=500 debug_id=([0-9a-f-]{36})", first.response)
    assert debug_id is not None
    logged = [r for r in caplog.records if getattr(r, "debug_id", None) == debug_id[1]]
    assert logged and logged[0].getMessage() == f"X accepted 500 conversions (debug_id {debug_id[1]})"
    assert all("authorization" in r.headers and "x-pixel-token" not in r.headers for r in fake.requests)


@pytest.mark.anyio
async def test_skipped_events_are_not_sent() -> None:
    fake = make_fake()
    events = [
        make_event(0),
        make_event(1, event_name="PageView"),
        make_event(2, hashed={"ph": [sha("16505551212")]}),  # Meta's phone form is not X's: no identifier
        make_event(3, ids={"twclid": TWCLID}, hashed={}),
    ]
    async with served(fake) as connector:
        outcomes = list(await connector.deliver(events))
        only_skips = list(await connector.send_batch(events[1:3]))
    assert outcomes[1:3] == [Skipped(no_tag_reason("PageView")), Skipped(NO_IDENTIFIER)]
    assert statuses([outcomes[0], outcomes[3]]) == ["Delivered", "Delivered"]
    assert only_skips == outcomes[1:3]
    assert len(fake.requests) == 1
    assert [c["conversion_id"] for c in fake.conversions] == ["order-0", "order-3"]


@pytest.mark.anyio
async def test_a_rejected_conversion_is_isolated() -> None:
    fake = make_fake()
    events = [make_event(i) for i in range(10)]
    events[3] = make_event(3, event_name="Bundle")  # a SET tag: 400 for the whole request
    events[8] = make_event(8, event_name="Alien")  # a tag of another account: 404 when alone
    async with served(fake) as connector:
        outcomes = list(await connector.deliver(events))
    assert statuses(outcomes) == ["Delivered"] * 3 + ["Failed"] + ["Delivered"] * 4 + ["Failed", "Delivered"]
    bad_set, bad_foreign = outcomes[3], outcomes[8]
    assert isinstance(bad_set, Failed) and bad_set.status_code == 400
    assert "event_id (o8set) is not a single event tag (SET)" in bad_set.message
    assert isinstance(bad_foreign, Failed) and bad_foreign.status_code == 404
    assert "does not belong to provided account" in bad_foreign.message
    assert sorted(c["conversion_id"] for c in fake.conversions) == [
        f"order-{i}" for i in range(10) if i not in (3, 8)
    ]
    assert fake.requests[0].json["conversions"][3]["event_id"] == "o8set"


@pytest.mark.anyio
async def test_pixel_token_auth() -> None:
    fake = make_fake(consumer_key=None, pixel_token=PIXEL_TOKEN)
    settings = XSettings.model_validate(
        {"type": "x", "pixel_id": PIXEL, "event_tags": TAGS, "pixel_token": PIXEL_TOKEN}
    )
    async with served(fake, settings=settings) as connector:
        outcomes = list(await connector.deliver([make_event(1)]))
    wrong = settings.model_copy(update={"pixel_token": SecretStr("wrong-token-123")})
    async with served(fake, settings=wrong) as connector:
        with pytest.raises(AuthRejectedError) as refused:
            await connector.deliver([make_event(2)])
    assert statuses(outcomes) == ["Delivered"]
    assert (
        fake.requests[0].headers["x-pixel-token"] == PIXEL_TOKEN
        and "authorization" not in fake.requests[0].headers
    )
    assert refused.value.status_code == 401 and "wrong-token-123" not in refused.value.message
    assert [c["conversion_id"] for c in fake.conversions] == ["order-1"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code"), [(401, "UNAUTHORIZED_ACCESS"), (403, "UNAUTHORIZED_CLIENT_APPLICATION")]
)
async def test_auth_errors_pause_the_connector(status: int, code: str) -> None:
    fake = make_fake()
    fake.script(
        ScriptedResponse(status, {"errors": [{"code": code, "message": f"denied {CONSUMER_SECRET}"}]})
    )
    async with served(fake) as connector:
        with pytest.raises(AuthRejectedError) as raised:
            await connector.deliver([make_event(i) for i in range(4)])
    assert raised.value.status_code == status and code in raised.value.message
    assert CONSUMER_SECRET not in raised.value.message
    assert len(fake.requests) == 1


@pytest.mark.anyio
async def test_wrong_credentials_are_refused_by_the_fakes_signature_check() -> None:
    fake = make_fake()
    async with served(fake, consumer_secret=SecretStr("not-the-secret")) as connector:
        with pytest.raises(AuthRejectedError, match="UNAUTHORIZED_ACCESS"):
            await connector.deliver([make_event(1)])
    assert fake.conversions == []


@pytest.mark.anyio
async def test_unknown_pixel_fails_the_batch_without_bisecting() -> None:
    fake = make_fake(pixel_id="o0ther")
    async with served(fake) as connector:
        outcomes = list(await connector.deliver([make_event(i) for i in range(6)]))
    assert statuses(outcomes) == ["Failed"] * 6
    assert all(isinstance(o, Failed) and o.status_code == 404 for o in outcomes)
    assert len(fake.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (500, {}, None),
        (503, {"retry-after": "30"}, 30.0),
        (504, {}, None),
        (408, {}, None),
        (423, {}, None),
        (502, {}, None),
    ],
)
async def test_transient_errors_are_retried(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    fake = make_fake()
    fake.script(
        ScriptedResponse(status, {"errors": [{"code": "INTERNAL_ERROR", "message": "oops"}]}, headers)
    )
    async with served(fake) as connector:
        outcomes = list(await connector.deliver([make_event(i) for i in range(3)]))
    assert outcomes == [Retry(f"X answered {status}: INTERNAL_ERROR: oops", retry_after, status)] * 3
    assert len(fake.requests) == 1 and fake.conversions == []


@pytest.mark.anyio
@pytest.mark.parametrize("prefix", ["x-account-rate-limit", "x-rate-limit"])
async def test_429_waits_until_the_reset_and_holds_back(prefix: str) -> None:
    fake = make_fake()
    reset = int(time.time()) + 120
    headers = {f"{prefix}-limit": "60000", f"{prefix}-remaining": "0", f"{prefix}-reset": str(reset)}
    fake.script(
        ScriptedResponse(429, {"errors": [{"code": "TOO_MANY_REQUESTS", "message": "slow down"}]}, headers)
    )
    async with served(fake) as connector:
        first = list(await connector.deliver([make_event(1), make_event(2)]))
        second = list(await connector.deliver([make_event(3)]))
    for outcome in (*first, *second):
        assert isinstance(outcome, Retry) and outcome.retry_after is not None
        assert 115 <= outcome.retry_after <= 121
    assert isinstance(first[0], Retry) and first[0].status_code == 429
    assert len(fake.requests) == 1  # the second delivery was held back without a request


@pytest.mark.anyio
async def test_429_without_reset_header_waits_a_default() -> None:
    fake = make_fake()
    fake.script(ScriptedResponse(429, {"errors": [{"code": "TOO_MANY_REQUESTS", "message": "slow"}]}))
    async with served(fake) as connector:
        outcomes = list(await connector.deliver([make_event(1)]))
    assert isinstance(outcomes[0], Retry) and outcomes[0].retry_after == 60.0


@pytest.mark.anyio
async def test_timeouts_and_network_errors_are_retried() -> None:
    fake = make_fake()
    fake.script(ScriptedResponse(200, {}, delay=1.0))
    async with served(fake, timeout=0.2, real=True) as connector:
        timed_out = list(await connector.deliver([make_event(1)]))
    closed = make_settings(api_base=f"http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient(timeout=1.0) as client:
        unreachable = list(await XConnector("x", closed, client).deliver([make_event(2)]))
    assert isinstance(timed_out[0], Retry) and "Timeout" in timed_out[0].message
    assert isinstance(unreachable[0], Retry) and "ConnectError" in unreachable[0].message
    assert fake.conversions == []


@pytest.mark.anyio
async def test_the_fakes_own_rate_limit_answers_429_with_headers() -> None:
    fake = make_fake()
    async with served(fake) as connector:
        await connector.deliver([make_event(0)])
        fake.account_window.used = 60_000
        connector.limiter = XRateLimiter()  # forget what the headers said, to reach the fake's 429
        outcomes = list(await connector.deliver([make_event(1)]))
    assert isinstance(outcomes[0], Retry) and outcomes[0].status_code == 429
    assert outcomes[0].retry_after is not None and 800 <= outcomes[0].retry_after <= 901


@pytest.mark.anyio
async def test_low_remaining_budget_slows_down_before_a_429() -> None:
    fake = make_fake()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with served(fake) as connector:
        connector.limiter = XRateLimiter(sleep=sleep)
        await connector.deliver([make_event(0)])
        fake.account_window.used = 60_000 - 11  # the next answer says: 10 events left
        fake.account_window.reset_at = time.time() + 2
        await connector.deliver([make_event(1)])
        paced = list(await connector.deliver([make_event(2)]))  # 2 s for 10 events: ~0.2 s apart
        paced_sleeps = list(slept)
        fake.account_window.reset_at = time.time() + 600
        await connector.deliver([make_event(3)])
        held = list(await connector.deliver([make_event(i) for i in range(4, 20)]))  # 16 > 8 left
    assert statuses(paced) == ["Delivered"] and len(paced_sleeps) == 1 and 0.05 < paced_sleeps[0] <= 0.25
    assert statuses(held) == ["Retry"] * 16
    assert isinstance(held[0], Retry) and held[0].retry_after is not None and 590 < held[0].retry_after <= 600
    assert len(fake.requests) == 4 and len(fake.conversions) == 4


@pytest.mark.anyio
async def test_local_window_keeps_under_60000_events_per_15_minutes() -> None:
    now = [1_000.0]
    limiter = XRateLimiter(clock=lambda: now[0])
    for step in range(120):
        now[0] = 1_000.0 + step  # 500 events a second for two minutes
        await limiter.acquire(500)
    with pytest.raises(RateLimitedError) as raised:
        await limiter.acquire(1)
    assert raised.value.retry_after == 900 - 119  # when the first 500 leave the window
    now[0] = 1_000.0 + 900
    await limiter.acquire(500)
    with pytest.raises(RateLimitedError) as again:
        await limiter.acquire(501)
    assert again.value.retry_after == 2.0  # two more seconds free 1,000 events
