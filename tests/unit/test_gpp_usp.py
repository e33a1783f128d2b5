"""GPP strings, GPP US sections and US Privacy strings: public vectors, malformed input, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.consent import (
    SECTION_NAMES,
    US_SECTION_IDS,
    GppString,
    TcfCaString,
    TCString,
    UsPrivacy,
    UsSection,
    decode_gpp,
    decode_gpp_header,
    decode_gpp_section,
    decode_tcf_ca,
    decode_us_privacy,
    decode_us_section,
    parse_gpp_sid,
)
from relay.consent.bits import ALPHABET
from tests.consent_encoders import (
    USNAT_SCALARS,
    USNAT_TAIL,
    consented_tc,
    fibonacci,
    gpp_string,
    to_base64url,
    uint,
    usnat,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def vectors(vectors_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((vectors_dir / "gpp_usp_public.json").read_text())
    assert len(data["gpp_valid"]) >= 19 and len(data["gpp_section_vectors"]) >= 33
    return data


def _section_fields(section: object) -> dict[str, Any]:
    if isinstance(section, UsPrivacy):
        return section.gpp_fields()
    assert isinstance(section, TCString | UsSection | TcfCaString)
    return section.to_dict()


def _ad_summary(name: str, section: object) -> dict[str, bool]:
    if isinstance(section, TCString):
        return {"purposes_1_3_4_7_consent": {1, 3, 4, 7} <= section.purpose_consents}
    if isinstance(section, UsPrivacy):
        return {"ccpa_applies": section.ccpa_applies, "opted_out_of_sale": section.opted_out_of_sale}
    assert isinstance(section, UsSection), name
    return section.ad_opt_out()


def _gpp_mismatches(vector: dict[str, Any]) -> list[str]:
    gpp = decode_gpp(vector["gpp_string"])
    if not gpp.valid:
        return [f"rejected: {gpp.error}"]
    expected = vector["expected"]
    out = []
    if (
        list(gpp.section_ids) != expected["section_ids"]
        or list(gpp.section_names) != expected["section_names"]
    ):
        out.append("section ids")
    for name, fields in expected["sections"].items():
        got = _section_fields(gpp.section(name))
        out += [f"{name}.{k}" for k, v in fields.items() if not k.startswith("_") and got.get(k) != v]
    for name, summary in expected.get("ad_opt_out", {}).items():
        if _ad_summary(name, gpp.section(name)) != summary:
            out.append(f"{name} ad_opt_out")
    return out


def test_every_valid_gpp_vector(vectors: dict[str, Any]) -> None:
    failures = {
        v["gpp_string"][:40]: problems for v in vectors["gpp_valid"] if (problems := _gpp_mismatches(v))
    }
    assert failures == {}


def test_every_invalid_gpp_vector_is_rejected(vectors: dict[str, Any]) -> None:
    for vector in vectors["gpp_invalid"]:
        gpp = decode_gpp(vector["gpp_string"])
        assert not gpp.valid, vector["reason"]
        assert gpp.error and vector["gpp_string"] not in gpp.error
        assert gpp.sections == {}


def test_header_examples(vectors: dict[str, Any]) -> None:
    for example in vectors["gpp_header_examples"]:
        assert decode_gpp_header(example["header"]) == tuple(example["expected_section_ids"])
    # the other spec examples (consent.md §2.1)
    assert decode_gpp_header("DBACNY") == (2, 6)
    assert decode_gpp_header("DBABjw") == (5, 6)
    assert decode_gpp_header("DBAA") == ()
    assert decode_gpp_header("CBAA") is None


def _us_section_mismatches(vector: dict[str, Any]) -> list[str]:
    section = decode_us_section(vector["section"], vector["section_string"])
    if not section.valid:
        return [f"rejected: {section.error}"]
    got = section.to_dict()
    out = [k for k, v in vector["expected"].items() if not k.startswith("_") and got.get(k) != v]
    if section.ad_opt_out() != vector["ad_opt_out"]:
        out.append("ad_opt_out")
    return out


def test_every_valid_section_vector(vectors: dict[str, Any]) -> None:
    valid = [v for v in vectors["gpp_section_vectors"] if not v.get("error")]
    assert len(valid) >= 20
    failures = {
        f"{v['section']} {v['section_string']}": problems
        for v in valid
        if (problems := _us_section_mismatches(v))
    }
    assert failures == {}


def test_every_invalid_section_vector_is_rejected(vectors: dict[str, Any]) -> None:
    invalid = [v for v in vectors["gpp_section_vectors"] if v.get("error")]
    assert invalid
    for vector in invalid:
        section = decode_gpp_section(vector["section"], vector["section_string"])
        assert not section.valid, vector
        # a GPP string carrying the broken section is invalid as a whole
        sid = US_SECTION_IDS.get(vector["section"], 6)
        assert not decode_gpp(gpp_string([(sid, vector["section_string"])])).valid


def test_us_privacy_vectors(vectors: dict[str, Any]) -> None:
    for vector in vectors["usp_valid"]:
        assert decode_us_privacy(vector["usp_string"]).to_dict() == vector["expected"]
    for vector in vectors["usp_invalid"]:
        usp = decode_us_privacy(vector["usp_string"])
        assert not usp.valid and usp.error, vector["reason"]
        assert not usp.opted_out_of_sale
    absent = decode_us_privacy(vectors["usp_absent"]["usp_string"])
    assert not absent.valid and not absent.opted_out_of_sale


@pytest.mark.parametrize(
    ("value", "applies", "opted_out"),
    [
        ("1YNN", True, False),
        ("1NYN", True, True),
        ("1-Y-", True, True),
        ("1---", False, False),
        ("1YYY", True, True),
    ],
)
def test_us_privacy_meaning(value: str, applies: bool, opted_out: bool) -> None:
    usp = decode_us_privacy(value)
    assert (usp.valid, usp.ccpa_applies, usp.opted_out_of_sale) == (True, applies, opted_out)


@pytest.mark.parametrize("value", ["2YNN", "1yNN", "1YNNN", "", None, 1, "1 NN"])
def test_us_privacy_rejects(value: object) -> None:
    assert not decode_us_privacy(value).valid


def test_gpp_structure_errors() -> None:
    assert "type" in (decode_gpp("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA").error or "")
    assert decode_gpp("DBAA").valid and decode_gpp("DBAA").section_ids == ()
    assert not decode_gpp("DBAA~1YNN").valid
    assert not decode_gpp("DBABTA~1YNN~1YNN").valid
    assert not decode_gpp("DBABTA~1YXN").valid  # a malformed section invalidates the string
    assert not decode_gpp("DB@A").valid
    assert not decode_gpp(None).valid and not decode_gpp("").valid and not decode_gpp(["DBAA"]).valid
    assert decode_gpp("DBABTA~1YNN").section("uspv1") == decode_us_privacy("1YNN")


def test_gpp_with_every_us_section_round_trips() -> None:
    # a GPC sub-section with Gpc=1 on each section that has one
    # (usin, usky and usri carry a 16-bit sensitive-data sub-section there instead)
    sections = [(sid, "BAAAAAAAAAAAAAAA.YAAA") for sid in range(8, 28)]
    gpp = decode_gpp(gpp_string(sections))
    assert gpp.valid, gpp.error
    assert gpp.section_names == tuple(SECTION_NAMES[sid] for sid in range(8, 28))
    with_gpc = {s.name for s in gpp.sections.values() if isinstance(s, UsSection) and s.gpc}
    assert with_gpc == {SECTION_NAMES[i] for i in range(8, 28)} - {
        "usva",
        "usut",
        "usfl",
        "usin",
        "usky",
        "usri",
    }
    usin = gpp.section("usin")
    assert isinstance(usin, UsSection) and usin.fields["SensitiveDataProcessing"] == (1, 2, 0, 0, 0, 0, 0, 0)


def test_tcfeuv2_and_uspv1_sections() -> None:
    tc = consented_tc([1, 7], [755])
    gpp = decode_gpp(gpp_string([(2, tc), (6, "1NYN")]))
    section = gpp.section(2)
    assert isinstance(section, TCString) and section.usable and section.purpose_consents == {1, 7}
    usp = gpp.section("uspv1")
    assert isinstance(usp, UsPrivacy) and usp.opted_out_of_sale
    assert gpp.to_dict()["sections"]["uspv1"] == {
        "Version": 1,
        "Notice": "N",
        "OptOutSale": "Y",
        "LspaCovered": "N",
    }


def test_tcfcav1_section() -> None:
    ca = decode_tcf_ca("BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACADwAAEAE.fHHHA4444ao")
    assert ca.valid, ca.error
    assert (ca.cmp_id, ca.cmp_version, ca.vendor_list_version) == (50, 2, 413)
    assert ca.vendor_express_consent == {12, 24, 48} and ca.vendor_implied_consent == {18, 30}
    assert ca.purposes_express_consent == {1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18}
    assert ca.special_feature_express_consent == set(range(7, 13))
    assert ca.publisher_purposes is not None
    assert ca.publisher_purposes.custom_purpose_consents == {2}
    assert ca.publisher_purposes.custom_purpose_li == {1, 3}
    disclosed = decode_tcf_ca("BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA.IAGO5w")
    assert disclosed.disclosed_vendor_vector is not None
    assert disclosed.disclosed_vendor_vector.ids == {1, 2, 3, 5, 6, 7, 10, 11, 12}
    assert not decode_tcf_ca("IAGO5w").valid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("7", (7,)),
        ("7,8", (7, 8)),
        ("8_7", (7, 8)),
        ([7, 2], (2, 7)),
        (7, (7,)),
        ("-1", ()),
        ("seven", None),
        ("", None),
        (True, None),
        ({"7": 1}, None),
    ],
)
def test_parse_gpp_sid(value: object, expected: tuple[int, ...] | None) -> None:
    assert parse_gpp_sid(value) == expected


_two_bit = st.integers(0, 3)


@given(
    version=st.integers(0, 63),
    scalars=st.lists(_two_bit, min_size=9, max_size=9),
    tail=st.lists(_two_bit, min_size=4, max_size=4),
    v2=st.booleans(),
    gpc=st.none() | st.booleans(),
    data=st.data(),
)
def test_usnat_round_trip(
    version: int, scalars: list[int], tail: list[int], v2: bool, gpc: bool | None, data: st.DataObject
) -> None:
    sdp_len, child_len = (16, 3) if v2 else (12, 2)
    sdp = data.draw(st.lists(_two_bit, min_size=sdp_len, max_size=sdp_len))
    child = data.draw(st.lists(_two_bit, min_size=child_len, max_size=child_len))
    fields: dict[str, Any] = {"Version": version, **dict(zip(USNAT_SCALARS, scalars, strict=True))}
    fields |= {"SensitiveDataProcessing": sdp, "KnownChildSensitiveDataConsents": child}
    fields |= dict(zip(USNAT_TAIL, tail, strict=True))
    section = decode_us_section("usnat", usnat(fields, gpc))
    assert section.valid, section.error
    got = section.to_dict()
    # lists are reported at the Version's length (v1: 12 + 2, later: 16 + 3), zero padded
    want_sdp, want_child = (12, 2) if version == 1 else (16, 3)
    assert got["SensitiveDataProcessing"] == [*sdp, 0, 0, 0, 0][:want_sdp]
    assert got["KnownChildSensitiveDataConsents"] == [*child, 0][:want_child]
    assert {k: got[k] for k in fields if not isinstance(fields[k], list)} == {
        k: v for k, v in fields.items() if not isinstance(v, list)
    }
    assert got["GpcSegmentIncluded"] is (gpc is not None)
    assert got["Gpc"] is bool(gpc)
    assert section.sale_opt_out is (fields["SaleOptOut"] == 1)
    assert section.must_not_sell_share_or_target is (1 in scalars[6:9] or bool(gpc))


@given(st.lists(st.integers(1, 60), min_size=0, max_size=8, unique=True))
def test_header_round_trip(ids: list[int]) -> None:
    ordered = sorted(ids)
    header = uint(3, 6) + uint(1, 6) + uint(len(ordered), 12)
    last = 0
    for sid in ordered:
        header += "0" + fibonacci(sid - last)
        last = sid
    assert decode_gpp_header(to_base64url(header)) == tuple(ordered)


@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(decode_gpp(text), GppString)
    assert isinstance(decode_us_privacy(text), UsPrivacy)
    assert isinstance(decode_gpp_header(text), tuple | type(None))


@given(st.text(alphabet=ALPHABET + ".~", max_size=300))
def test_random_gpp_shaped_text_never_raises(text: str) -> None:
    gpp = decode_gpp("DB" + text)
    assert gpp.valid or gpp.error


@given(st.sampled_from(sorted(set(SECTION_NAMES) - {3, 4})), st.text(alphabet=ALPHABET + ".", max_size=80))
def test_random_sections_never_raise(section_id: int, text: str) -> None:
    section = decode_gpp_section(section_id, text)
    assert section.valid in (True, False)


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(raw: bytes) -> None:
    text = raw.decode("latin-1")
    assert isinstance(decode_gpp(text), GppString)
    assert not decode_gpp(raw).valid
    assert not decode_us_section(7, raw).valid
