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
