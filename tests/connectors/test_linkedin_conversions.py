"""LinkedIn Conversions API: settings, golden payload, delivery to the strict fake (in process)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.linkedin import LinkedInConnector, LinkedInSettings
from connectors.linkedin.mapping import NO_IDENTIFIER
from relay.exceptions import AuthRejectedError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.linkedin import FakeLinkedIn
from relay.types import ConsentVerdict, Delivered, Failed, OutboundEvent, Retry, Skipped

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
TOKEN = "AQV-linkedin-member-token-0123456789"
LI_FAT_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def settings(**overrides: Any) -> LinkedInSettings:
    block = {
        "type": "linkedin",
        "access_token": TOKEN,
        "api_base": "http://li.test",
        "conversion_rules": {"Purchase": "104012", "Lead": "urn:lla:llaPartnerConversion:104013"},
    }
    return LinkedInSettings.model_validate({**block, **overrides})


def event(event_id: str = "order-1", **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": 1,
        "event_id": event_id,
        "event_name": "Purchase",
        "event_time": int(time.time()) - 60,
        "hashed": {
            "em": [sha("jane.doe@example.com")],
            "ph": [sha("16505551212")],
            "external_id": [sha("cust-42")],
        },
        "ids": {"li_fat_id": LI_FAT_ID, "twclid": "x"},
        "custom": {"value": 42.5, "currency": "eur"},
    }
    return OutboundEvent(**{**fields, **overrides})


def connector(fake: FakeLinkedIn, **overrides: Any) -> LinkedInConnector:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url="http://li.test")
    return LinkedInConnector("linkedin", settings(**overrides), client)


def test_golden_payload() -> None:
    e = event()
    body = LinkedInConnector("linkedin", settings(), httpx.AsyncClient()).request_body([e])
    assert body == {
        "elements": [
            {
                "conversion": "urn:lla:llaPartnerConversion:104012",
                "conversionHappenedAt": e.event_time * 1000,
                "eventId": "order-1",
                "user": {
                    "userIds": [
                        {"idType": "SHA256_EMAIL", "idValue": sha("jane.doe@example.com")},
                        {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": LI_FAT_ID},
                    ],
                    "externalIds": [sha("cust-42")],
                },
                "conversionValue": {"currencyCode": "EUR", "amount": "42.5"},
            }
        ]
    }


def test_settings_refuse_sunset_versions_bad_rules_and_ldu() -> None:
    assert settings().api_version == "202603"
    with pytest.raises(ValidationError, match="sunset"):
        settings(api_version="202511")
    with pytest.raises(ValidationError, match="YYYYMM"):
        settings(api_version="2026-03")
    with pytest.raises(ValidationError, match="conversion rule"):
        settings(conversion_rules={"Purchase": "abc"})
    with pytest.raises(ValidationError, match="Meta-only"):
        settings(consent={"us_opt_out": "ldu"})


async def test_delivers_a_batch_with_linkedin_headers() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN], conversion_rules=["104012", "104013"])
    outcomes = await connector(fake).deliver([event("a"), event("b", event_name="Lead")])
    assert all(isinstance(o, Delivered) for o in outcomes)
    [request] = fake.requests
    assert request.headers["linkedin-version"] == "202603"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["x-restli-method"] == "BATCH_CREATE"
    assert [c["eventId"] for c in fake.conversions] == ["a", "b"]
    assert "16505551212" not in request.body.decode() and sha("16505551212") not in request.body.decode()


async def test_skips_unmapped_names_denied_consent_and_events_without_identifier() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN])
    c = connector(fake)
    outcomes = await c.deliver(
        [
            event("no-rule", event_name="PageView"),
            event("denied", consent=ConsentVerdict("deny", "tcf purpose 1 not consented")),
            event("anon", hashed={"ph": [sha("16505551212")]}, ids={}),
        ]
    )
    assert [type(o) for o in outcomes] == [Skipped, Skipped, Skipped]
    assert isinstance(outcomes[2], Skipped) and outcomes[2].reason == NO_IDENTIFIER
    assert c.skip_reason("PageView") and not fake.requests
    assert c.acceptance_window("website") == 90 * 86400


async def test_an_element_the_platform_refuses_is_isolated() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN])
    old = int(time.time()) - 91 * 86400  # outside LinkedIn's 90 days: refused by the fake
    batch = [event(f"e{i}") for i in range(5)]
    batch[3] = event("old", event_time=old)
    outcomes = await connector(fake).deliver(batch)
    assert isinstance(outcomes[3], Failed) and "90 days" in outcomes[3].message
    assert all(isinstance(o, Delivered) for i, o in enumerate(outcomes) if i != 3)
    assert sorted(c["eventId"] for c in fake.conversions) == ["e0", "e1", "e2", "e4"]


async def test_unmappable_value_fails_that_event_alone() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN])
    outcomes = await connector(fake).deliver([event("good"), event("bad", custom={"value": "abc"})])
    assert isinstance(outcomes[0], Delivered)
    assert isinstance(outcomes[1], Failed) and outcomes[1].message.startswith("cannot map event: ValueError")


async def test_auth_error_raises_and_token_is_masked() -> None:
    fake = FakeLinkedIn(access_tokens=["another-token-0123456789"])
    with pytest.raises(AuthRejectedError) as caught:
        await connector(fake).deliver([event()])
    assert "INVALID_ACCESS_TOKEN" in caught.value.message and TOKEN not in caught.value.message


async def test_rate_limit_and_server_errors_are_retryable() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN])
    fake.script(
        ScriptedResponse(429, {"status": 429, "message": "Too many requests"}, {"Retry-After": "30"}),
        ScriptedResponse(503, {"status": 503, "message": "unavailable"}),
        ScriptedResponse(501, {"status": 501, "message": "not implemented"}),
    )
    c = connector(fake)
    [limited] = await c.deliver([event()])
    assert isinstance(limited, Retry) and limited.retry_after == 30 and limited.status_code == 429
    [down] = await c.deliver([event()])
    assert isinstance(down, Retry) and down.status_code == 503
    [unsupported] = await c.deliver([event()])
    assert isinstance(unsupported, Failed) and unsupported.status_code == 501


async def test_per_element_statuses_of_a_batch_answer_are_read() -> None:
    fake = FakeLinkedIn(access_tokens=[TOKEN])
    answer = {
        "elements": [{"status": 201}, {"status": 400, "error": {"message": "bad rule"}}, {"status": 500}]
    }
    fake.script(ScriptedResponse(200, answer))
    outcomes = await connector(fake).deliver([event("a"), event("b"), event("c")])
    assert [type(o) for o in outcomes] == [Delivered, Failed, Retry]
    assert isinstance(outcomes[1], Failed) and "bad rule" in outcomes[1].message
