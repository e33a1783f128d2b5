"""GPP sections encoded by the IAB reference library (``@iabgpp/cmpapi``), decoded field for field.

``tests/vectors/gpp_iab.json`` is written by ``scripts/gpp-vectors/generate.mjs``: varied
tcfcav1 sections (large sparse vendor ids and long runs, so both OptimizedRange forms and the
Fibonacci ranges occur), usnat v1 and v2 and every US state section, whole GPP strings, and
truncations the relay must refuse (usnat Version 2 cut to the Version 1 length first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relay.consent import TcfCaString, UsSection, decode_gpp, decode_gpp_section
from relay.consent.gpp import GppSection
from tests.consent_encoders import gpp_string

pytestmark = pytest.mark.unit

_VECTORS = Path(__file__).parents[1] / "vectors" / "gpp_iab.json"
_SUB_SECTION_FLAGS = ("GpcSegmentIncluded", "SensitiveDataConsentSegmentIncluded")


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_VECTORS.read_text())
    return data


def _relay_fields(section: GppSection) -> dict[str, Any]:
    assert section.valid, section.error
    if isinstance(section, TcfCaString):
        return section.gpp_fields()
    assert isinstance(section, UsSection)
    fields = section.to_dict()
    if fields.get("GpcSegmentIncluded") is False:
        fields["GpcSegmentType"] = 1  # the IAB library reports its default for an absent sub-section
    return {k: v for k, v in fields.items() if k not in _SUB_SECTION_FLAGS}


def _mismatches(section: GppSection, expected: dict[str, Any]) -> list[str]:
    if not section.valid:
        return [f"rejected: {section.error}"]
    got = _relay_fields(section)
    missing = "<missing>"
    return [k for k in expected.keys() | got.keys() if got.get(k, missing) != expected.get(k, missing)]


def test_the_vectors_cover_what_the_issue_asks(vectors: dict[str, Any]) -> None:
    tcfca = [v["fields"] for v in vectors["sections"] if v["section"] == "tcfcav1"]
    assert len(tcfca) >= 30
    # Fibonacci ranges are used (a range beats the bitfield) for sparse ids far apart
    assert any(f["VendorExpressConsent"] and f["VendorExpressConsent"][-1] > 30000 for f in tcfca)
    assert any(len(f["VendorImpliedConsent"]) > 100 for f in tcfca)
    assert any(f["PubRestrictions"] for f in tcfca) and any(f["DisclosedVendors"] for f in tcfca)
    usnat_versions = {v["fields"]["Version"] for v in vectors["sections"] if v["section"] == "usnat"}
    assert usnat_versions == {1, 2}
    assert len({v["section"] for v in vectors["sections"]}) == 22


def test_every_iab_section_decodes_field_for_field(vectors: dict[str, Any]) -> None:
    failures = {
        f"{v['section']} {v['section_string'][:30]}": problems
        for v in vectors["sections"]
        if (problems := _mismatches(decode_gpp_section(v["section"], v["section_string"]), v["fields"]))
    }
    assert failures == {}


def test_tcfcav1_uses_fibonacci_ranges(vectors: dict[str, Any]) -> None:
    strings = [v["section_string"] for v in vectors["sections"] if v["section"] == "tcfcav1"]
    sections = [decode_gpp_section(5, s) for s in strings]
    ranged = [
        s
        for s in sections
        if isinstance(s, TcfCaString) and s.vendor_express_consent_vector.encoding == "range"
    ]
    assert ranged and all(s.range_coding == "fibonacci" for s in sections if isinstance(s, TcfCaString))


def test_every_iab_gpp_string_decodes_field_for_field(vectors: dict[str, Any]) -> None:
    assert len(vectors["gpp_strings"]) >= 5
    for vector in vectors["gpp_strings"]:
        gpp = decode_gpp(vector["gpp_string"])
        assert gpp.complete, gpp.section_errors
        assert list(gpp.section_ids) == vector["section_ids"]
        for name, fields in vector["sections"].items():
            section = gpp.section(name)
            assert section is not None and _mismatches(section, fields) == [], name


def test_truncated_sections_are_rejected(vectors: dict[str, Any]) -> None:
    invalid = vectors["invalid_sections"]
    assert sum(v["section"] == "usnat" and "Version 2" in v["reason"] for v in invalid) >= 10
    for vector in invalid:
        section = decode_gpp_section(vector["section"], vector["section_string"])
        assert not section.valid, vector["reason"]
        assert section.error and vector["section_string"] not in section.error


def test_a_truncated_usnat_v2_reads_nothing_from_the_gpp_string(vectors: dict[str, Any]) -> None:
    # the IAB decoder reads these with the v1 layout; the relay refuses the section, and only it
    for vector in (v for v in vectors["invalid_sections"] if v["section"] == "usnat"):
        gpp = decode_gpp(gpp_string([(6, "1YYN"), (7, vector["section_string"])]))
        assert gpp.valid and not gpp.complete
        assert set(gpp.section_errors) == {7}
        usnat = gpp.section("usnat")
        assert isinstance(usnat, UsSection) and not usnat.must_not_sell_share_or_target


def test_tcfcav1_from_the_pre_fibonacci_iab_encoder(vectors: dict[str, Any]) -> None:
    # @iabgpp/cmpapi 3.1.x wrote fixed-width ranges; 3.2 and the relay still read those strings
    legacy = vectors["legacy_tcfcav1"]
    assert len(legacy) >= 5
    failures = {
        v["section_string"][:30]: problems
        for v in legacy
        if (problems := _mismatches(decode_gpp_section(5, v["section_string"]), v["fields"]))
    }
    assert failures == {}
    codings = {getattr(decode_gpp_section(5, v["section_string"]), "range_coding", None) for v in legacy}
    assert "fixed" in codings
