"""Google Ads: settings, golden ClickConversion rows, partial failures, OAuth refresh and Customer Match
through the Data Manager API, against the strict fake (in process)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.google import GoogleAdsConnector, GoogleAdsSettings
from connectors.google.audiences import member_identifiers
from connectors.google.conversions import conversion_date_time, user_identifiers
from relay.exceptions import AuthRejectedError
from relay.normalize import google_email, hash_user
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.google import FakeGoogleAds
from relay.types import AudienceMember, ConsentVerdict, Delivered, Failed, OutboundEvent, Retry, Skipped

pytestmark = [pytest.mark.connectors, pytest.mark.anyio]
DEV_TOKEN = "dev-token-0123456789abcdef"
ACCESS = "ya29.static-access-token-0123456789"
REFRESH = ("client-123.apps.googleusercontent.com", "client-secret-0123456789", "1//refresh-token-0123456789")
CUSTOMER = "1234567890"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def settings(**overrides: Any) -> GoogleAdsSettings:
    block = {
        "type": "google_ads",
        "api_base": "http://g.test",
        "data_manager_base": "http://g.test",
        "token_url": "http://g.test/token",
        "customer_id": "123-456-7890",
        "developer_token": DEV_TOKEN,
        "access_token": ACCESS,
        "conversion_actions": {"Purchase": "555", "Lead": f"customers/{CUSTOMER}/conversionActions/556"},
    }
    return GoogleAdsSettings.model_validate({**block, **overrides})


def fake() -> FakeGoogleAds:
    return FakeGoogleAds(developer_tokens=[DEV_TOKEN], access_tokens=[ACCESS], refresh_logins=[REFRESH])


def connector(platform: FakeGoogleAds, **overrides: Any) -> GoogleAdsConnector:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=platform.app), base_url="http://g.test")
    return GoogleAdsConnector("google", settings(**overrides), client)


def event(event_id: str = "order-1", **overrides: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "delivery_id": 1,
        "event_id": event_id,
        "event_name": "Purchase",
        "event_time": 1_790_000_000,
        "hashed": hash_user({"email": "Jane.Doe@GMail.com", "phone": "+1 650 555 1212"}).hashed,
        "ids": {"gclid": "Cj0KCQjw-gclid-1", "wbraid": "wb-1"},
        "custom": {"value": 42.5, "currency": "eur"},
    }
    return OutboundEvent(**{**fields, **overrides})


def test_gmail_addresses_are_hashed_without_dots_for_google_only() -> None:
    assert google_email("jane.doe@gmail.com") == "janedoe@gmail.com"
    assert google_email("jane.doe@googlemail.com") == "janedoe@googlemail.com"
    assert google_email("jane.doe@example.com") == "jane.doe@example.com"
    hashed = hash_user({"email": " Jane.Doe@GMail.com "}).hashed
    assert hashed["em"] == [sha("jane.doe@gmail.com")]  # other platforms: as written
    assert hashed["em_google"] == [sha("janedoe@gmail.com")]
    assert "em_google" not in hash_user({"email": "jane.doe@example.com"}).hashed


@pytest.mark.parametrize(
    "emails",
    [
        ["boss@company.com", "Jane.Doe@gmail.com"],
        ["Jane.Doe@gmail.com", "boss@company.com"],
        ["jane.doe@gmail.com", "janedoe@gmail.com", "boss@company.com"],  # one address for Google
        [sha("prehashed@example.com"), "jane.doe@googlemail.com"],  # already hashed: passed as it is
    ],
)
def test_every_email_of_a_person_reaches_google_in_googles_form(emails: list[str]) -> None:
    """A gmail address beside others never costs the others their place: Google gets each email (gmail's
    without dots), conversions and Customer Match alike."""
    expected = []
    for email in emails:
        text = email if len(email) == 64 else sha(google_email(email.strip().lower()))
        if text not in expected:
            expected.append(text)
    hashed = hash_user({"email": emails}).hashed
    assert hashed["em_google"] == expected
    identifiers = user_identifiers(hashed)
    assert [i["hashedEmail"] for i in identifiers] == expected
    assert [m["emailAddress"] for m in member_identifiers(AudienceMember(hashed))] == expected


def test_golden_click_conversion() -> None:
    body = GoogleAdsConnector("google", settings(), httpx.AsyncClient()).request_body([event()])
    assert body == {
        "conversions": [
            {
                "conversionAction": f"customers/{CUSTOMER}/conversionActions/555",
                "conversionDateTime": "2026-09-21 14:13:20+00:00",
                "orderId": "order-1",
                "gclid": "Cj0KCQjw-gclid-1",
                "userIdentifiers": [
                    {"hashedEmail": sha("janedoe@gmail.com"), "userIdentifierSource": "FIRST_PARTY"},
                    {"hashedPhoneNumber": sha("+16505551212"), "userIdentifierSource": "FIRST_PARTY"},
                ],
                "conversionValue": 42.5,
                "currencyCode": "EUR",
                "consent": {"adUserData": "GRANTED"},
                "conversionEnvironment": "WEB",
            }
        ],
        "partialFailure": True,
    }
    assert conversion_date_time(0) == "1970-01-01 00:00:00+00:00"


def test_braid_ids_limited_consent_and_leads_without_click() -> None:
    c = GoogleAdsConnector("google", settings(), httpx.AsyncClient())
    row = c.build(event(ids={"wbraid": "wb-1"}, consent=ConsentVerdict("limited", "gpc opt-out", "strip")))
    assert row["wbraid"] == "wb-1" and "gclid" not in row and row["consent"] == {"adUserData": "DENIED"}
    lead = c.build(event(ids={}))
    assert not {"gclid", "gbraid", "wbraid"} & set(lead) and lead["userIdentifiers"]


def test_settings() -> None:
    s = settings(login_customer_id="111-222-3333")
    assert s.customer_id == CUSTOMER and s.login_customer_id == "1112223333" and s.api_version == "v26"
    with pytest.raises(ValidationError, match="sunset"):
        settings(api_version="v22")
    with pytest.raises(ValidationError, match="missing: refresh_token"):
        settings(access_token=None, client_id=REFRESH[0], client_secret=REFRESH[1])
    with pytest.raises(ValidationError, match="another customer"):
        settings(conversion_actions={"Purchase": "customers/9999999999/conversionActions/1"})
    with pytest.raises(ValidationError, match="10 digits"):
        settings(customer_id="12345")


async def test_upload_headers_and_partial_failure_isolates_the_bad_row() -> None:
    platform = fake()
    platform.unknown_clicks.add("unknown-click")
    c = connector(platform, login_customer_id="111-222-3333")
    batch = [event("a"), event("b", ids={"gclid": "unknown-click"}), event("c", event_name="Lead")]
    outcomes = await c.deliver(batch)
    assert [type(o) for o in outcomes] == [Delivered, Failed, Delivered]
    assert isinstance(outcomes[1], Failed) and "CLICK_NOT_FOUND" in outcomes[1].message
    [request] = platform.requests  # one request: the bad row did not need a bisection
    assert request.headers["developer-token"] == DEV_TOKEN
    assert request.headers["login-customer-id"] == "1112223333"
    assert request.path == f"/v26/customers/{CUSTOMER}:uploadClickConversions"
    assert [r["orderId"] for r in platform.conversions] == ["a", "c"]


async def test_transient_row_errors_are_retried() -> None:
    platform = fake()
    answer = {
        "results": [{}],
        "partialFailureError": {
            "code": 3,
            "details": [
                {
                    "errors": [
                        {
                            "errorCode": {"conversionUploadError": "TOO_RECENT_CONVERSION_ACTION"},
                            "message": "retry in 6 hours",
                            "location": {"fieldPathElements": [{"fieldName": "conversions", "index": 0}]},
                        }
                    ]
                }
            ],
        },
    }
    platform.script(ScriptedResponse(200, answer))
    [outcome] = await connector(platform).deliver([event()])
    assert isinstance(outcome, Retry) and "TOO_RECENT_CONVERSION_ACTION" in outcome.message


async def test_skips() -> None:
    c = connector(fake())
    outcomes = await c.deliver(
        [
            event("x", event_name="PageView"),
            event("y", hashed={}, ids={}),
            event("z", consent=ConsentVerdict("deny", "consent mode ad_user_data denied")),
        ]
    )
    assert [type(o) for o in outcomes] == [Skipped, Skipped, Skipped]
    assert c.acceptance_window("website") == 90 * 86400


async def test_refresh_token_login_and_a_401_refreshes_once() -> None:
    platform = fake()
    c = connector(
        platform, access_token=None, client_id=REFRESH[0], client_secret=REFRESH[1], refresh_token=REFRESH[2]
    )
    [first] = await c.deliver([event("a")])
    assert isinstance(first, Delivered) and platform.tokens_issued == 1
    platform.access_tokens = {ACCESS}  # Google revoked the issued token
    [second] = await c.deliver([event("b")])
    assert isinstance(second, Delivered) and platform.tokens_issued == 2
    token_calls = [r for r in platform.requests if r.path == "/token"]
    assert len(token_calls) == 2 and b"grant_type=refresh_token" in token_calls[0].body


async def test_a_refused_refresh_token_pauses_and_secrets_are_masked() -> None:
    platform = fake()
    c = connector(
        platform,
        access_token=None,
        client_id=REFRESH[0],
        client_secret=REFRESH[1],
        refresh_token="1//revoked-0123456789",
    )
    with pytest.raises(AuthRejectedError, match="invalid_grant"):
        await c.deliver([event()])
    masked = c.mask(f"token {REFRESH[1]} dev {DEV_TOKEN}")
    assert REFRESH[1] not in masked and DEV_TOKEN not in masked


async def test_whole_request_errors() -> None:
    platform = FakeGoogleAds(developer_tokens=["other"], access_tokens=[ACCESS])
    with pytest.raises(AuthRejectedError, match="DEVELOPER_TOKEN_NOT_APPROVED"):
        await connector(platform).deliver([event()])
    platform = fake()
    platform.script(
        ScriptedResponse(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}),
        ScriptedResponse(503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try later"}}),
    )
    c = connector(platform)
    [limited] = await c.deliver([event()])
    assert isinstance(limited, Retry) and limited.retry_after == 60 and limited.status_code == 429
    [down] = await c.deliver([event()])
    assert isinstance(down, Retry) and down.status_code == 503


def member(email: str) -> AudienceMember:
    return AudienceMember(hashed=hash_user({"email": email}).hashed)


async def test_customer_match_add_remove_through_data_manager() -> None:
    platform = fake()
    c = connector(platform, audience_consent={"ad_user_data": "granted", "ad_personalization": "granted"})
    members = [member("a.b@gmail.com"), member("c@example.com"), AudienceMember(hashed={"fn": [sha("jane")]})]
    result = await c.audience_add("9876", members)
    assert result.received == 3 and result.failed_indexes == [2]
    assert platform.members("9876") == {
        frozenset({("emailAddress", sha("ab@gmail.com"))}),
        frozenset({("emailAddress", sha("c@example.com"))}),
    }
    [request] = platform.requests
    body = request.json
    assert request.path == "/v1/audienceMembers:ingest" and "developer-token" not in request.headers
    assert body["destinations"] == [
        {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": CUSTOMER},
            "productDestinationId": "9876",
        }
    ]
    assert body["encoding"] == "HEX"
    assert body["consent"] == {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
    removed = await c.audience_remove("9876", [member("c@example.com")])
    assert removed.invalid == 0 and len(platform.members("9876")) == 1


async def test_customer_match_bad_member_is_dropped_and_the_rest_resent() -> None:
    platform = fake()
    c = connector(platform)
    bad = AudienceMember(hashed={"em": ["jane@example.com"]})  # never sent: not a digest
    assert (await c.audience_add("1", [bad])).failed_indexes == [0] and not platform.requests
    members = [member("x@example.com"), member("y@example.com")]
    platform.script(
        ScriptedResponse(
            400,
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [
                                {
                                    "field": "audience_members.audience_members[1]",
                                    "reason": "INVALID_SHA256_FORMAT",
                                }
                            ],
                        }
                    ],
                }
            },
        )
    )
    result = await c.audience_add("1", members)
    assert result.failed_indexes == [1] and result.invalid_samples == {"1": "INVALID_SHA256_FORMAT"}
    assert platform.members("1") == {frozenset({("emailAddress", sha("x@example.com"))})}
