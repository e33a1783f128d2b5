"""Each built-in connector maps events one by one: an event it cannot map fails alone, the rest of
its batch goes out in the same request; texts it keeps from an answer are masked before being cut."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from connectors.base import MAX_TEXT, BaseConnector
from connectors.meta import MetaConnector, MetaSettings
from connectors.x import XConnector, XSettings
from connectors.x.errors import classify
from relay.exceptions import PayloadRejectedError
from relay.sandbox.meta import FakeMeta
from relay.sandbox.x import FakeX
from relay.settings import ConnectorSettings
from relay.types import Delivered, Failed, OutboundEvent, Outcome
from tests.connectors.transport import fake_http

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]

META_TOKEN = "EAAB-isolation-token-0123456789"
OAUTH = {
    "consumer_key": "ck-iso-0123456789",
    "consumer_secret": "cs-iso-secret-0123456789",
    "access_token": "1234-at-iso-0123456789",
    "access_token_secret": "ats-iso-secret-0123456789",
}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def event(index: int, **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": index,
        "event_id": f"order-{index}",
        "event_name": "Purchase",
        "event_time": int(time.time()),
        "event_source_url": "https://shop.example/checkout",
        "hashed": {"em": [sha(f"user{index}@example.com")]},
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (test)",
        "custom": {"value": 10, "currency": "EUR", "contents": [{"id": "sku-1", "quantity": 1}]},
        **overrides,
    }
    return OutboundEvent(**fields)


@contextlib.asynccontextmanager
async def meta() -> AsyncIterator[tuple[MetaConnector, FakeMeta]]:
    fake = FakeMeta(access_token=META_TOKEN)
    async with fake_http(fake.app) as (base, client):
        block = {"type": "meta", "pixel_id": "123", "access_token": META_TOKEN, "api_base": base}
        yield MetaConnector("meta", MetaSettings.model_validate(block), client), fake


@contextlib.asynccontextmanager
async def x() -> AsyncIterator[tuple[XConnector, FakeX]]:
    fake = FakeX(**OAUTH, pixel_id="o8z6j")
    async with fake_http(fake.app) as (base, client):
        block = {"type": "x", "pixel_id": "o8z6j", "event_tags": {"Purchase": "o87ne"}, "api_base": base}
        yield XConnector("x", XSettings.model_validate({**block, **OAUTH}), client), fake


def check_isolated(outcomes: Any, bad: int, total: int) -> Failed:
    assert len(outcomes) == total
    failed = outcomes[bad]
    assert isinstance(failed, Failed) and failed.message.startswith("cannot map event: ")
    assert all(isinstance(o, Delivered) for i, o in enumerate(outcomes) if i != bad)
    return failed


META_UNMAPPABLE = [{"custom": {"contents": 5}}, {"hashed": {"em": [5]}}, {"event_time": "yesterday"}]


@pytest.mark.parametrize("bad", META_UNMAPPABLE, ids=["contents-int", "hash-int", "time-text"])
async def test_meta_event_it_cannot_map_fails_alone(bad: dict[str, Any]) -> None:
    events = [event(i) for i in range(500)]
    events[123] = event(123, **bad)
    async with meta() as (connector, fake):
        outcomes = list(await connector.deliver(events))
    failed = check_isolated(outcomes, 123, 500)
    assert "Error" in failed.message and failed.status_code is None
    assert len(fake.requests) == 1 and len(fake.events) == 499
    assert "order-123" not in {e["event_id"] for e in fake.events}


X_UNMAPPABLE = [
    {"custom": {"contents": 5}},
    {"ids": {"twclid": 5}},
    {"hashed": {"em": [5]}},
    {"event_time": "yesterday"},
]


@pytest.mark.parametrize("bad", X_UNMAPPABLE, ids=["contents-int", "twclid-int", "hash-int", "time-text"])
async def test_x_event_it_cannot_map_fails_alone(bad: dict[str, Any]) -> None:
    events = [event(i) for i in range(500)]
    events[321] = event(321, **bad)
    async with x() as (connector, fake):
        outcomes = list(await connector.deliver(events))
    check_isolated(outcomes, 321, 500)
    assert len(fake.requests) == 1 and len(fake.conversions) == 499
    assert "order-321" not in {c["conversion_id"] for c in fake.conversions}


class Picky(BaseConnector[ConnectorSettings]):
    """Its mapper quotes the value it chokes on, and that value holds a secret and an email."""

    type_name = "picky"

    def secrets(self) -> Sequence[str]:
        return [META_TOKEN]

    def build(self, event: OutboundEvent) -> Any:
        if event.delivery_id == 1:
            raise ValueError(f"cannot read {event.custom['note']!r}")
        return event

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return [Delivered(200) for _ in events]


async def test_a_mapping_error_is_masked_and_cut() -> None:
    note = "x" * 921 + f"jane.doe@example.com {META_TOKEN}"  # the token across the cut
    connector = Picky("picky", ConnectorSettings(type="picky", api_base="http://unused"), None)  # type: ignore[arg-type]
    outcomes = list(await connector.deliver([event(0), event(1, custom={"note": note}), event(2)]))
    assert [type(o).__name__ for o in outcomes] == ["Delivered", "Failed", "Delivered"]
    failed = outcomes[1]
    assert isinstance(failed, Failed) and failed.message.startswith(
        "cannot map event: ValueError: cannot read"
    )
    assert len(failed.message) <= MAX_TEXT and "jane.doe" not in failed.message
    assert not any(META_TOKEN[i : i + 6] in failed.message for i in range(len(META_TOKEN) - 5))


def test_x_masks_an_echoed_oauth_header() -> None:
    connector = XConnector("x", XSettings.model_validate({"type": "x", "pixel_id": "p", **OAUTH}), None)  # type: ignore[arg-type]
    header = (
        'OAuth oauth_consumer_key="ck-iso-0123456789", oauth_nonce="abc", '
        'oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", oauth_token="1234-at-iso-0123456789"'
    )
    for echoed in (header, f'{{"authorization": "{header}"}}', "oauth_signature=tnnArxj06cWHq44gCs1OSKk"):
        masked = connector.mask(f"debug {echoed} end")
        assert "tnnArxj06cWHq44gCs1OSKk" not in masked and "ck-iso" not in masked and "1234-at" not in masked
        assert masked.startswith("debug ")


def test_x_error_text_is_masked_before_it_is_cut() -> None:
    secret = OAUTH["consumer_secret"]
    for pad in range(440, 500, 7):  # the secret across the 500-character cut
        message = "x" * pad + secret
        body = {"errors": [{"code": "INVALID_PARAMETER", "message": message}]}
        error = classify(
            httpx.Response(400, json=body), now=time.time(), mask=lambda t: t.replace(secret, "***")
        )
        assert isinstance(error, PayloadRejectedError) and len(error.message) <= 500
        assert not any(secret[i : i + 6] in error.message for i in range(len(secret) - 5))
