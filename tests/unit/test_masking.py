"""Masking: secrets, credential parameters, emails and phone numbers never reach a record or a log."""

from __future__ import annotations

import time

import pytest

from relay.masking import mask_text, mask_url

pytestmark = pytest.mark.unit


def test_credential_query_parameters_are_masked_in_urls() -> None:
    url = "https://graph.facebook.com/v26.0/123/events?access_token=EAAB.secret&appsecret_proof=ab12&x=1"
    assert (
        mask_url(url)
        == "https://graph.facebook.com/v26.0/123/events?access_token=***&appsecret_proof=***&x=1"
    )
    assert mask_url("https://ads-api.x.com/12/measurement/conversions/o8z6j") == (
        "https://ads-api.x.com/12/measurement/conversions/o8z6j"
    )


def test_text_masking_of_secrets_parameters_and_contact_details() -> None:
    text = (
        "GET /v26.0/1/events?access_token=EAAB123 failed for jane.doe@example.com (+1 (650) 555-1212) "
        'Authorization: OAuth oauth_consumer_key="ck", oauth_signature="sig%3D", oauth_token="tok" '
        "my-own-secret-value"
    )
    masked = mask_text(text, secrets=["my-own-secret-value", "abc"])
    for leaked in (
        "EAAB123",
        "jane.doe@example.com",
        "650",
        "sig%3D",
        '"tok"',
        '"ck"',
        "my-own-secret-value",
    ):
        assert leaked not in masked
    assert "access_token=***" in masked and "[email]" in masked and "[phone]" in masked


@pytest.mark.parametrize(
    "keep",
    [
        "debug_id ff02e052-36e4-47d6-bdf0-6d8986446562",
        "fbtrace_id AbC123456789012",
        "em 62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        "fb.1.1596403881668.1116446470",
    ],
)
def test_ids_and_hashes_are_not_mistaken_for_phone_numbers(keep: str) -> None:
    assert mask_text(keep) == keep


@pytest.mark.parametrize(
    "hostile",
    ["a" * 120_000, "a." * 60_000, "1-" * 60_000, "a+" * 60_000, "x@" + "a-" * 60_000, "1 (" * 40_000],
    ids=["word", "dots", "digit-dash", "plus", "domain", "phone-ish"],
)
def test_masking_is_linear_on_hostile_text(hostile: str) -> None:
    # every log line passes through mask_text: a quadratic pattern here stalls the event loop (a 60 KB
    # run of word characters took 10 s before the e-mail pattern got its look-behind)
    started = time.perf_counter()
    masked = mask_text(hostile + " jane.doe@example.com")
    assert time.perf_counter() - started < 0.5
    assert masked.endswith("[email]")


# -- structural masking (issue 15): by key and by known value, never by guessing digits ------------------


@pytest.mark.parametrize(
    "keep",
    [
        "POST /sandbox/meta/v26.0/1234567890/events?access_token=***",
        "2026-12-03 09:28:38,158",
        "event_time=1796289343 delivery_id=123456789012",
        "fb.1.1796289343490.1116446470",
        "order 4155550123",  # a bare number is an id, not a phone
        '{"debug_id": "ff02e052-36e4-47d6-bdf0-6d8986446562", "fbtrace_id": "AbC123456789012"}',
        '"em": ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"]',
    ],
)
def test_ids_times_and_hashes_survive(keep: str) -> None:
    assert mask_text(keep) == keep


@pytest.mark.parametrize(
    ("text", "leak", "shown"),
    [
        ('{"email": "jane@x.io", "n": 1}', "jane@x.io", '"email": "[email]"'),
        ("{'phone': '4155550123'}", "4155550123", "'phone': '[phone]'"),
        ("phone=4155550123&x=1", "4155550123", "phone=[phone]&x=1"),
        ('"access_token": "EAABsecret"', "EAABsecret", '"access_token": "***"'),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi", "Authorization: Bearer ***"),
        ("client_secret=s3cr3t x", "s3cr3t", "client_secret=*** x"),
        ("call (415) 555-0100 now", "555-0100", "call [phone] now"),
        ("call 415-555-0100 now", "555-0100", "call [phone] now"),
    ],
)
def test_contact_and_secret_fields_are_masked_by_key(text: str, leak: str, shown: str) -> None:
    masked = mask_text(text)
    assert leak not in masked and shown in masked


def test_known_secrets_are_masked_by_value_and_structures_by_key() -> None:
    from relay.masking import mask_value, secret_values
    from relay.settings import Settings

    settings = Settings.model_validate(
        {"server": {"api_keys": ["k-0123456789"], "admin_token": "adm-0123456789"}}
    )
    assert set(secret_values(settings)) == {"k-0123456789", "adm-0123456789"}
    assert mask_text("saw k-0123456789 twice: k-0123456789", secret_values(settings)) == "saw *** twice: ***"
    answer = {"user": {"email": "a@b.co", "phone": "+1 650 555 1212", "id": "1234567890"}, "oauth_token": "t"}
    assert mask_value(answer) == {
        "user": {"email": "[email]", "phone": "[phone]", "id": "1234567890"},
        "oauth_token": "***",
    }
