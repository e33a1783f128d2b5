"""Google consent mode: the gcm object, the gcs hit parameter, and their merge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.consent import ConsentMode, decode_gcm, decode_gcs, merge_consent_modes

pytestmark = pytest.mark.unit


def test_gcm_object() -> None:
    mode = decode_gcm(
        {
            "ad_storage": "granted",
            "ad_user_data": "denied",
            "ad_personalization": "Denied ",
            "wait_for_update": "500",
        }
    )
    assert mode.valid and mode
    assert dict(mode.flags) == {"ad_storage": True, "ad_user_data": False, "ad_personalization": False}
    assert mode.get("analytics_storage") is None
    assert mode.to_dict() == {
        "ad_storage": "granted",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }


def test_gcm_invalid_values_fail_closed() -> None:
    mode = decode_gcm({"ad_storage": "yes", "ad_user_data": True, "analytics_storage": "granted"})
    assert mode.get("ad_storage") is False and mode.get("ad_user_data") is False
    assert mode.get("analytics_storage") is True
    assert mode.invalid == ("ad_storage", "ad_user_data")


@pytest.mark.parametrize("value", [None, "granted", ["ad_storage"], 1])
def test_gcm_not_an_object(value: object) -> None:
    mode = decode_gcm(value)
    assert not mode.valid and not mode
    assert mode.to_dict() == {"valid": False, "error": "not an object"}


def test_empty_gcm_is_no_signal() -> None:
    mode = decode_gcm({})
    assert mode.valid and not mode


@pytest.mark.parametrize(
    ("gcs", "ad_storage", "analytics_storage"),
    [
        ("G100", False, False),
        ("G111", True, True),
        ("G110", True, False),
        ("G101", False, True),
        ("G1-1", None, True),
        ("G11-", True, None),
        (" G111 ", True, True),
    ],
)
def test_gcs(gcs: str, ad_storage: bool | None, analytics_storage: bool | None) -> None:
    mode = decode_gcs(gcs)
    assert mode.valid
    assert (mode.get("ad_storage"), mode.get("analytics_storage")) == (ad_storage, analytics_storage)
    assert mode.get("ad_user_data") is None  # gcs says nothing about the v2 types


@pytest.mark.parametrize("gcs", ["G1", "G1111", "G200", "g111", "G1xx", "", None, 111])
def test_gcs_malformed(gcs: object) -> None:
    mode = decode_gcs(gcs)
    assert not mode.valid and not mode.flags


def test_gcs_without_information_is_no_signal() -> None:
    assert not decode_gcs("G1--")


def test_merge_denial_wins() -> None:
    merged = merge_consent_modes(
        decode_gcm({"ad_storage": "granted", "ad_user_data": "granted"}),
        decode_gcs("G101"),
        decode_gcm("garbage"),
    )
    assert dict(merged.flags) == {"ad_storage": False, "ad_user_data": True, "analytics_storage": True}
    assert merged.valid


def test_merge_of_nothing() -> None:
    merged = merge_consent_modes()
    assert merged.valid and not merged
    assert isinstance(merged, ConsentMode)


@given(
    st.dictionaries(
        st.text(max_size=20) | st.sampled_from(["ad_storage", "ad_user_data"]), st.none() | st.text()
    )
)
def test_random_gcm_never_raises(value: dict[str, object]) -> None:
    mode = decode_gcm(value)
    assert mode.valid
    assert set(mode.flags) <= {"ad_storage", "ad_user_data"} | set(value)


@given(st.text(max_size=10))
def test_random_gcs_never_raises(value: str) -> None:
    mode = decode_gcs(value)
    if mode.valid:
        assert len(value.strip()) == 4 and value.strip().startswith("G1")
    else:
        assert mode.error == "not a G1xy value" and not mode.flags
