"""The webhook connector: golden canonical payload, signature, status classification, against the
sandbox receiver (in process)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.webhook import WebhookConnector, WebhookSettings, sign, verify
from relay.exceptions import AuthRejectedError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.webhook import FakeWebhook
from relay.types import ConsentVerdict, Delivered, Failed, OutboundEvent, Retry, Skipped

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
SECRET = "whsec-relay-0123456789abcdef"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def settings(**overrides: Any) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {"type": "webhook", "url": "http://hook.test/in", "secret": SECRET, **overrides}
    )


def connector(fake: FakeWebhook, **overrides: Any) -> WebhookConnector:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    return WebhookConnector("hook", settings(**overrides), client)


def event(event_id: str = "order-1", **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": 7,
        "event_id": event_id,
        "event_name": "Purchase",
        "event_time": 1_790_000_000,
        "event_source_url": "https://shop.example/done",
        "hashed": {"em": [sha("jane@example.com")], "ph": ["not-a-hash"]},
        "ids": {"gclid": "g-1", "fbp": ""},
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
        "custom": {"value": 42.5, "currency": "EUR"},
    }
    return OutboundEvent(**{**fields, **overrides})


def test_golden_payload() -> None:
    c = WebhookConnector("hook", settings(), httpx.AsyncClient())
    assert c.build(event()) == {
        "event_id": "order-1",
        "event_name": "Purchase",
        "event_time": 1_790_000_000,
        "action_source": "website",
        "event_source_url": "https://shop.example/done",
        "referrer_url": None,
        "opt_out": False,
        "user": {
            "hashed": {"em": [sha("jane@example.com")]},  # a value that is not a digest never leaves
            "ids": {"gclid": "g-1"},
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0",
        },
        "custom": {"value": 42.5, "currency": "EUR"},
        "consent": {"decision": "allow", "reason": "allowed", "mode": None},
    }


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"events":[]}'
    expected = hmac.new(SECRET.encode(), b"1790000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_790_000_000, body) == f"sha256={expected}"
    assert verify(SECRET, "1790000000", body, f"sha256={expected}", now=1_790_000_100)
    assert not verify(SECRET, "1790000000", body, f"sha256={expected}", now=1_790_001_000)  # stale
    assert not verify(SECRET, "1790000000", body + b" ", f"sha256={expected}", now=1_790_000_000)


def test_settings() -> None:
    s = settings()
    assert s.api_base == s.url and s.batch_size == 100 and s.timeout_seconds == 10
    with pytest.raises(ValidationError, match="16 characters"):
        settings(secret="short")
    with pytest.raises(ValidationError, match="overridden"):
        settings(headers={"X-Relay-Signature": "x"})
    with pytest.raises(ValidationError):
        settings(batch_size=5000)


async def test_signed_batches_of_the_configured_size() -> None:
    fake = FakeWebhook(secrets=[SECRET])
    c = connector(fake, batch_size=2, headers={"X-Api-Key": "receiver-key-0123456789"})
    outcomes = await c.deliver([event(f"e{i}") for i in range(5)])
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert [len(r.json["events"]) for r in fake.requests] == [2, 2, 1]
    assert [e["event_id"] for e in fake.events] == [f"e{i}" for i in range(5)]
    first = fake.requests[0]
    assert first.headers["x-api-key"] == "receiver-key-0123456789"
    assert verify(SECRET, first.headers["x-relay-timestamp"], first.body, first.headers["x-relay-signature"])
    assert "jane@example.com" not in first.body.decode()
    assert "receiver-key-0123456789" not in c.mask("key receiver-key-0123456789")


async def test_a_wrong_secret_pauses() -> None:
    fake = FakeWebhook(secrets=["another-secret-0123456789"])
    with pytest.raises(AuthRejectedError, match="401"):
        await connector(fake).deliver([event()])


async def test_one_refused_event_is_isolated() -> None:
    fake = FakeWebhook(secrets=[SECRET])
    batch = [event(f"e{i}") for i in range(6)]
    batch[4] = event("bad", custom={"value": "forty"})
    outcomes = await connector(fake).deliver(batch)
    assert isinstance(outcomes[4], Failed) and "custom.value" in outcomes[4].message
    assert sorted(e["event_id"] for e in fake.events) == ["e0", "e1", "e2", "e3", "e5"]


async def test_statuses() -> None:
    fake = FakeWebhook(secrets=[SECRET])
    fake.script(
        ScriptedResponse(429, {"error": "slow down"}, {"Retry-After": "12"}),
        ScriptedResponse(502, {"error": "bad gateway"}),
        ScriptedResponse(404, {"error": "no such hook"}),
    )
    c = connector(fake)
    [limited] = await c.deliver([event()])
    assert isinstance(limited, Retry) and limited.retry_after == 12
    [down] = await c.deliver([event()])
    assert isinstance(down, Retry) and down.status_code == 502
    [gone] = await c.deliver([event()])
    assert isinstance(gone, Failed) and gone.status_code == 404


async def test_denied_consent_is_skipped_and_limited_is_forwarded() -> None:
    fake = FakeWebhook(secrets=[SECRET])
    outcomes = await connector(fake).deliver(
        [
            event("d", consent=ConsentVerdict("deny", "gpc opt-out")),
            event("l", consent=ConsentVerdict("limited", "gpc", "strip")),
        ]
    )
    assert isinstance(outcomes[0], Skipped) and isinstance(outcomes[1], Delivered)
    assert json.loads(fake.requests[0].body)["events"][0]["consent"]["mode"] == "strip"
