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
from relay.consent.signals import ConsentSignals, parse_signals
from relay.consent.us_section import LAYOUTS
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


#: public vectors the relay refuses on purpose, with why (both IAB decoders accept them leniently)
STRICTER_THAN_IAB = {
    # a Version 2 usnat at the 60/66-bit Version 1 length: a truncated v2 section (issue 12);
    # the IAB encoder writes Version 2 with 70 bits, the decoders read these with the v1 layout
    ("usnat", "CVQqAAAACg"): "usnat Version 2 truncated to the Version 1 length",
    ("usnat", "CAAAAAABEQA.QA"): "usnat Version 2 truncated to the Version 1 length",
}


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
        section = gpp.section(name)
        if (name, _section_string(vector["gpp_string"], gpp, name)) in STRICTER_THAN_IAB:
            out += [] if section is not None and not section.valid else [f"{name} accepted"]
            continue
        got = _section_fields(section)
        out += [f"{name}.{k}" for k, v in fields.items() if not k.startswith("_") and got.get(k) != v]
    for name, summary in expected.get("ad_opt_out", {}).items():
        if _ad_summary(name, gpp.section(name)) != summary:
            out.append(f"{name} ad_opt_out")
    return out


def _section_string(text: str, gpp: GppString, name: str) -> str:
    return text.split("~")[1:][gpp.section_names.index(name)]


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
    refused = [v for v in valid if (v["section"], v["section_string"]) in STRICTER_THAN_IAB]
    assert refused and all(not decode_gpp_section(v["section"], v["section_string"]).valid for v in refused)
    valid = [v for v in valid if v not in refused]
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
        # in a GPP string the broken section is reported invalid, and only it
        sid = US_SECTION_IDS.get(vector["section"], 6)
        gpp = decode_gpp(gpp_string([(sid, vector["section_string"]), (28, "raw")]))
        assert gpp.valid and list(gpp.section_errors) == [sid] and not gpp.complete


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
    broken = decode_gpp("DBABTA~1YXN")  # a malformed section is invalid on its own
    assert broken.valid and not broken.complete and set(broken.section_errors) == {6}
    assert broken.to_dict()["sections"]["uspv1"]["valid"] is False
    assert not decode_gpp("DB@A").valid
    assert not decode_gpp(None).valid and not decode_gpp("").valid and not decode_gpp(["DBAA"]).valid
    assert decode_gpp("DBABTA~1YNN").section("uspv1") == decode_us_privacy("1YNN")


def _us_section(sid: int) -> str:
    # Version 1 and zeros at the layout's exact length, with a GPC sub-section saying Gpc=1
    # where the layout has one (usin, usky and usri carry 16-bit sensitive data there instead)
    layout = LAYOUTS[sid]
    version = 2 if sid == 7 else 1  # LAYOUTS[7] is usnat v2
    core = to_base64url(uint(version, 6) + "0" * sum(w * max(n, 1) for _, w, n in layout.core[1:]))
    sub = {"gpc": ".Y", "sensitive": ".YAA", None: ""}[layout.sub]
    return core + sub


def test_gpp_with_every_us_section_round_trips() -> None:
    sections = [(sid, _us_section(sid)) for sid in range(8, 28)]
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
    # the public IAB test string carries 10 bits after its last field: the layout was read in full,
    # the rest is ignored as the IAB decoder does; cut short, it is refused, never guessed at
    loose = decode_tcf_ca("BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACADwAAEAE.fHHHA4444ao")
    assert loose.valid, loose.error
    assert loose.cmp_id == 50 and loose.vendor_list_version == 413
    short = decode_tcf_ca("BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAAB.fHHHA4444ao")
    assert not short.valid
    disclosed = decode_tcf_ca("BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA.IAGO5w")
    assert disclosed.valid, disclosed.error
    assert disclosed.disclosed_vendor_vector is not None
    assert disclosed.disclosed_vendor_vector.ids == {1, 2, 3, 5, 6, 7, 10, 11, 12}
    assert not decode_tcf_ca("IAGO5w").valid
    assert not decode_tcf_ca("CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA").valid  # version 2 is not tcfcav1


def test_tcfcav1_fibonacci_vendor_ranges() -> None:
    # MaxId 65000, IsRange 1, two entries: vendor 3 (single, +3) and 64990-65000 (group: +64987, +10)
    ranges = uint(2, 12) + "0" + fibonacci(3) + "1" + fibonacci(64987) + fibonacci(10)
    vendors = uint(65000, 16) + "1" + ranges
    core = uint(1, 6) + uint(17_000_000_000, 36) * 2 + uint(50, 12) + uint(2, 12) + uint(0, 6)
    core += uint(4, 6) + uint(13, 6) + uint(413, 12) + uint(2, 6) + "0" + "0" * 12 + "1" * 24 + "0" * 24
    section = decode_tcf_ca(to_base64url(core + vendors + uint(0, 16) + "0" + uint(0, 12)))
    assert section.valid, section.error
    assert section.vendor_express_consent == {3, *range(64990, 65001)}
    assert section.vendor_implied_consent == set() and section.consent_language == "EN"
    assert section.range_coding == "fibonacci"
    # an id beyond MaxId makes it invalid; a core cut before its last field too
    bad_max = uint(64999, 16) + "1" + ranges
    assert not decode_tcf_ca(to_base64url(core + bad_max + uint(0, 16) + "0" + uint(0, 12))).valid
    assert not decode_tcf_ca(to_base64url(core + vendors[:-5])).valid


def test_one_bad_section_does_not_hide_a_valid_opt_out() -> None:
    bad_tcfca = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAAB.fHHHA4444ao"  # core cut short
    opted_out = usnat(
        {"Version": 2, **dict.fromkeys(USNAT_SCALARS, 2), "SaleOptOut": 1}
        | {"SensitiveDataProcessing": [0] * 16, "KnownChildSensitiveDataConsents": [0] * 3}
        | dict.fromkeys(USNAT_TAIL, 2)
    )
    gpp = decode_gpp(gpp_string([(5, bad_tcfca), (7, opted_out)]))
    assert gpp.valid and set(gpp.section_errors) == {5}
    section = gpp.section("usnat")
    assert isinstance(section, UsSection) and section.valid and section.sale_opt_out


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
    # Version 2 has the 16 + 3 layout only (a v2 at the v1 length is truncated); Version 1 has
    # the 12 + 2 layout, or the 16 + 3 one the IAB encoder wrote with Version 1 before 3.2
    if version not in (1, 2) or (version == 2 and not v2):
        assert not section.valid and section.error
        assert not section.must_not_sell_share_or_target
        return
    assert section.valid, section.error
    got = section.to_dict()
    want_sdp, want_child = (12, 2) if version == 1 else (16, 3)
    assert got["SensitiveDataProcessing"] == sdp[:want_sdp]
    assert got["KnownChildSensitiveDataConsents"] == child[:want_child]
    assert {k: got[k] for k in fields if not isinstance(fields[k], list)} == {
        k: v for k, v in fields.items() if not isinstance(v, list)
    }
    assert got["GpcSegmentIncluded"] is (gpc is not None)
    assert got["Gpc"] is bool(gpc)
    assert section.sale_opt_out is (fields["SaleOptOut"] == 1)
    assert section.must_not_sell_share_or_target is (1 in scalars[6:9] or bool(gpc))


@pytest.mark.parametrize("sid", sorted(LAYOUTS))
def test_us_section_length_must_match_its_layout(sid: int) -> None:
    good = _us_section(sid)
    core, _, sub = good.partition(".")
    assert decode_us_section(sid, good).valid
    assert not decode_us_section(sid, core[:-2] + ("." + sub if sub else "")).valid  # truncated
    # bits after a layout read in full are ignored, as the IAB decoders do: the fields are the same
    longer = decode_us_section(sid, core + "AA" + ("." + sub if sub else ""))
    assert longer.valid and longer.fields == decode_us_section(sid, good).fields
    assert not decode_us_section(sid, "D" + core[1:]).valid  # a version without a known layout
    if LAYOUTS[sid].sub is None:
        assert not decode_us_section(sid, core + ".Y").valid
    elif LAYOUTS[sid].sub == "gpc":
        assert not decode_us_section(sid, core + ".4").valid  # sub-section type 3 is not gpc
        assert not decode_us_section(sid, core + ".Y.Y").valid


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


def test_signals_keep_the_opt_out_of_a_valid_section_beside_a_broken_one() -> None:
    bad_tcfca = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAAB.fHHHA4444ao"  # core cut short
    sale = _us_section(7)[:3] + "Q" + _us_section(7)[4:]  # SaleOptOut = 1 (bits 18-19)
    assert decode_us_section(7, sale).sale_opt_out
    parsed = parse_signals(ConsentSignals(gpp=gpp_string([(5, bad_tcfca), (7, sale)])))
    assert "gpp usnat sale" in parsed.opt_outs and parsed.has_non_tcf_signal
    invalid = parsed.audit()["gpp"]["invalid_sections"]
    assert list(invalid) == ["tcfcav1"] and bad_tcfca not in invalid["tcfcav1"]
    # a GPP string whose every applicable section is malformed is no signal, as before
    truncated = "CQoBkRRIAG"  # usnat Version 2 cut to 60 bits
    alone = parse_signals(ConsentSignals(gpp=gpp_string([(7, truncated)])))
    assert not alone.has_non_tcf_signal and alone.opt_outs == ()
    beside = parse_signals(ConsentSignals(gpp=gpp_string([(6, "1YYN"), (7, truncated)]), gpp_sid="6,7"))
    assert beside.has_non_tcf_signal and beside.opt_outs == ("us privacy",)
