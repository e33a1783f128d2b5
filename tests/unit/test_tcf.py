"""TCF v2 TC string decoder: public vectors, malformed input, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.consent import TCString, decode_tc_string
from relay.consent.bits import ALPHABET
from tests.consent_encoders import (
    TcCore,
    consented_tc,
    disclosed_segment,
    publisher_tc_segment,
    tc_string,
    to_base64url,
)

pytestmark = pytest.mark.unit

# fields whose expected value the decoded dict carries under the same name
_DIRECT = (
    *("version", "created", "cmp_id", "cmp_version", "consent_screen", "consent_language"),
    *("vendor_list_version", "tcf_policy_version", "is_service_specific", "use_non_standard_texts"),
    *("special_feature_optins", "purpose_consents", "purpose_li", "purpose_one_treatment", "publisher_cc"),
    *(
        "max_vendor_id",
        "vendor_consent_encoding",
        "vendor_consents_count",
        "max_vendor_id_li",
        "vendor_li_count",
    ),
    *("publisher_restrictions_count", "disclosed_vendors_count", "vendor_consents", "vendor_li"),
    *("disclosed_vendors", "publisher_tc"),
)


@pytest.fixture(scope="module")
def vectors(vectors_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((vectors_dir / "tcf_public.json").read_text())
    assert len(data["valid"]) >= 11 and len(data["invalid"]) >= 6
    return data


def _field_mismatches(vector: dict[str, Any]) -> list[str]:
    expected = vector["expected"]
    tc = decode_tc_string(vector["tc_string"])
    if not tc.valid:
        return [f"rejected: {tc.error}"]
    got = tc.to_dict()
    out = [f"{k}: {got[k]!r} != {expected[k]!r}" for k in _DIRECT if k in expected and got[k] != expected[k]]
    for vendor, consented in expected["vendor_consents_sample"].items():
        if (
            tc.has_vendor_consent(int(vendor)) is not consented
            or (int(vendor) in tc.vendor_consents) is not consented
        ):
            out.append(f"vendor consent {vendor}")
    for vendor, established in expected["vendor_li_sample"].items():
        if (int(vendor) in tc.vendor_li) is not established:
            out.append(f"vendor li {vendor}")
    return out


def _restriction_mismatches(vector: dict[str, Any]) -> list[str]:
    expected = vector["expected"]
    tc = decode_tc_string(vector["tc_string"])
    out = [] if len(tc.publisher_restrictions) == expected["publisher_restrictions_count"] else ["count"]
    for sample in expected.get("publisher_restrictions_sample", []):
        key = (sample["purpose"], sample["type"])
        matching = [r for r in tc.publisher_restrictions if (r.purpose, r.restriction_type) == key]
        vendors = sorted(matching[0].vendors) if matching else []
        if vendors[: len(sample["vendors"])] != sample["vendors"] or len(vendors) != sample["vendor_count"]:
            out.append(f"restriction {key}")
        elif tc.restriction(sample["purpose"], sample["vendors"][0]) != sample["type"]:
            out.append(f"restriction lookup {key}")
    return out


def _relay_check_mismatches(vector: dict[str, Any]) -> list[str]:
    checks = vector["expected"]["relay_checks"]
    tc = decode_tc_string(vector["tc_string"])
    p, google = tc.purpose_consents, tc.has_vendor_consent(755)
    got = {
        "purpose_1_consent": 1 in p,
        "purposes_1_3_4_7_consent": {1, 3, 4, 7} <= p,
        "google_755_vendor_consent": google,
        "google_755_personalised_ads_ok (vendor 755 + P1,P3,P4)": google and {1, 3, 4} <= p,
        "google_755_measurement_ok (vendor 755 + P1,P7)": google and {1, 7} <= p,
    }
    return [k for k, v in checks.items() if got[k] is not v]


@pytest.mark.parametrize("check", [_field_mismatches, _restriction_mismatches, _relay_check_mismatches])
def test_every_valid_vector(vectors: dict[str, Any], check: Any) -> None:
    failures = {v["tc_string"][:24]: problems for v in vectors["valid"] if (problems := check(v))}
    assert failures == {}


def test_policy_findings_decide_usability(vectors: dict[str, Any]) -> None:
    for vector in vectors["valid"]:
        tc = decode_tc_string(vector["tc_string"])
        stale = any("policy_version" in f or "IsServiceSpecific=0" in f for f in vector["policy_findings"])
        assert tc.usable is not stale, vector["tc_string"][:24]
        if any("DisclosedVendors" in f for f in vector["policy_findings"]):
            assert "no disclosed vendors segment" in tc.findings()


def test_every_invalid_vector_is_rejected(vectors: dict[str, Any]) -> None:
    for vector in vectors["invalid"]:
        tc = decode_tc_string(vector["tc_string"])
        assert not tc.valid, vector["reason"]
        assert tc.error
        assert not tc.usable
        assert tc.to_dict() == {"valid": False, "error": tc.error}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, "not a string"),
        (42, "not a string"),
        (b"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", "not a string"),
        ("", "empty"),
        ("   ", "empty"),
        ("C", "truncated"),
        ("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAA", "truncated"),
        ("CPXxRfAPXxRfAAfKABENB+CgAAAAAAAAAAYgAAAAAAAA", "base64"),
        ("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.", "empty segment"),
        ("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.IAAA.IAAA", "repeated"),
        ("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.gAAA", "segment type 4"),
        ("A" * 70_000, "too long"),
    ],
)
def test_malformed_strings_give_an_error(value: object, error: str) -> None:
    tc = decode_tc_string(value)
    assert not tc.valid
    assert error in (tc.error or "")


def test_every_truncation_of_a_real_string_is_safe(vectors: dict[str, Any]) -> None:
    text = vectors["valid"][0]["tc_string"].split(".")[0]
    full = decode_tc_string(text)
    assert full.valid
    results = [decode_tc_string(text[:n]) for n in range(1, len(text))]
    assert all(isinstance(r, TCString) for r in results)
    # a prefix can only be valid if it still holds every field (the padding char may go)
    assert all(not r.valid for r in results[: len(text) - 2])


def test_padding_and_whitespace_are_tolerated() -> None:
    text = consented_tc([1, 7])
    assert decode_tc_string(text + "==").purpose_consents == {1, 7}
    assert decode_tc_string(f"  {text}\n").valid


def test_usability_reasons() -> None:
    assert decode_tc_string(consented_tc()).unusable_reason is None
    assert decode_tc_string(consented_tc(tcf_policy_version=3)).unusable_reason == "policy version 3"
    assert decode_tc_string(consented_tc(is_service_specific=False)).unusable_reason == "not service-specific"
    assert decode_tc_string("Bg").unusable_reason == "unsupported version 1"


def test_vendor_range_above_max_vendor_id_is_rejected() -> None:
    bits = TcCore(vendor_consents={5}, vendor_consent_encoding="range").bits()
    # MaxVendorId sits right after the 213 fixed bits; claim 4 while the range names vendor 5
    forged = bits[:213] + format(4, "016b") + bits[229:]
    tc = decode_tc_string(to_base64url(forged))
    assert not tc.valid
    assert "MaxVendorId" in (tc.error or "")


def test_contract_example_string() -> None:
    tc = decode_tc_string("CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A")
    assert tc.usable
    assert tc.tcf_policy_version == 5
    assert tc.purpose_consents == frozenset(range(1, 12))
    assert tc.vendor_consent_vector.encoding == "range"
    assert len(tc.vendor_consent_vector) == 1500
    assert tc.disclosed_vendors is not None and 755 in tc.disclosed_vendors


_id_sets = st.sets(st.integers(1, 400), max_size=40)
_non_empty_ids = st.sets(st.integers(1, 400), min_size=1, max_size=40)
_purposes = st.sets(st.integers(1, 24), max_size=24)


@given(
    purposes=_purposes,
    li=_purposes,
    features=st.sets(st.integers(1, 12)),
    vendors=_id_sets,
    vendors_li=_id_sets,
    encoding=st.sampled_from(["bitfield", "range"]),
    li_encoding=st.sampled_from(["bitfield", "range"]),
    cmp_id=st.integers(0, 4095),
    policy=st.integers(0, 63),
    created=st.integers(0, 2**36 - 1),
    language=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    restrictions=st.lists(st.tuples(st.integers(1, 24), st.integers(0, 3), _non_empty_ids), max_size=3),
)
def test_core_round_trip(**kw: Any) -> None:
    core = TcCore(
        purpose_consents=kw["purposes"],
        purpose_li=kw["li"],
        special_feature_optins=kw["features"],
        vendor_consents=kw["vendors"],
        vendor_li=kw["vendors_li"],
        vendor_consent_encoding=kw["encoding"],
        vendor_li_encoding=kw["li_encoding"],
        cmp_id=kw["cmp_id"],
        tcf_policy_version=kw["policy"],
        created=kw["created"],
        consent_language=kw["language"],
        restrictions=kw["restrictions"],
    )
    tc = decode_tc_string(tc_string(core))
    assert tc.valid, tc.error
    assert (tc.purpose_consents, tc.purpose_li) == (kw["purposes"], kw["li"])
    assert tc.special_feature_optins == kw["features"]
    assert (tc.vendor_consents, tc.vendor_li) == (kw["vendors"], kw["vendors_li"])
    assert tc.vendor_consent_vector.encoding == kw["encoding"]
    assert len(tc.vendor_consent_vector) == len(kw["vendors"])
    assert (tc.cmp_id, tc.tcf_policy_version) == (kw["cmp_id"], kw["policy"])
    assert tc.consent_language == kw["language"]
    assert tc.created is not None and round(tc.created.timestamp() * 10) == kw["created"]
    restrictions = [(r.purpose, r.restriction_type, set(r.vendors)) for r in tc.publisher_restrictions]
    assert restrictions == kw["restrictions"]


@given(vendors=_id_sets, consents=_purposes, custom=st.integers(0, 63), data=st.data())
def test_segments_round_trip(vendors: set[int], consents: set[int], custom: int, data: st.DataObject) -> None:
    custom_consents = data.draw(st.sets(st.integers(1, custom))) if custom else set()
    publisher = publisher_tc_segment(consents, {2}, custom, custom_consents)
    text = tc_string(TcCore(), disclosed_segment(vendors), publisher)
    tc = decode_tc_string(text)
    assert tc.valid, tc.error
    assert tc.disclosed_vendors == vendors
    assert tc.publisher_tc is not None
    assert tc.publisher_tc.purpose_consents == consents
    assert tc.publisher_tc.num_custom_purposes == custom
    assert tc.publisher_tc.custom_purpose_consents == custom_consents


@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(decode_tc_string(text), TCString)


@given(st.text(alphabet=ALPHABET + ".", max_size=400))
def test_random_base64_never_raises(text: str) -> None:
    tc = decode_tc_string(text)
    assert tc.valid or tc.error


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(decode_tc_string(raw.decode("latin-1")), TCString)
    assert not decode_tc_string(raw).valid
