"""GPP section 5, ``tcfcav1``: the IAB Canada TCF string.

Segments: the core first, then PublisherPurposes (type 3) and DisclosedVendors (type 1) in any
order, at most once each. Vendor id sets (express consent, implied consent, disclosed vendors
and each publisher restriction) are GPP *OptimizedRange* fields: MaxId(16), IsRange(1), then a
MaxId-bit bitfield or a Fibonacci-coded range (:meth:`BitReader.read_fibonacci_ranges`).

The IAB encoder ``@iabgpp/cmpapi`` wrote fixed-width TCF-style ranges (Start(16)/End(16))
before 3.2.0, and 3.2.0 still reads both: Fibonacci first, the legacy layout when that does not
fit. The relay does the same, strictly: a layout is accepted only when it consumes the segment
exactly (up to zero padding) with every id within MaxId, and when both layouts fit, the one the
IAB encoder would have written (shortest form, MaxId = highest id) wins. The relay does not base
decisions on this section; it is decoded for audits and so that a malformed section is reported.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from relay.consent.bits import BitReader, DecodeError, base64url_bits
from relay.consent.tcf import CoreHeader, PublisherTC, read_core_header, read_publisher_tc
from relay.consent.vendors import (
    PublisherRestriction,
    Ranges,
    VendorVector,
    merge_ranges,
    read_restrictions,
    read_vendor_vector,
)

_T = TypeVar("_T")
_VERSION = 1
_PUBLISHER_PURPOSES, _DISCLOSED_VENDORS = 3, 1
_SEGMENT_FIELDS = {_DISCLOSED_VENDORS: "disclosed_vendor_vector", _PUBLISHER_PURPOSES: "publisher_purposes"}


@dataclass(frozen=True)
class TcfCaString(CoreHeader):
    """A decoded ``tcfcav1`` section. When ``valid`` is false only ``error`` is meaningful."""

    use_non_standard_stacks: bool = False
    special_feature_express_consent: frozenset[int] = frozenset()
    purposes_express_consent: frozenset[int] = frozenset()
    purposes_implied_consent: frozenset[int] = frozenset()
    vendor_express_consent_vector: VendorVector = field(default_factory=VendorVector)
    vendor_implied_consent_vector: VendorVector = field(default_factory=VendorVector)
    publisher_restrictions: tuple[PublisherRestriction, ...] = ()
    disclosed_vendor_vector: VendorVector | None = None
    publisher_purposes: PublisherTC | None = None
    #: "fibonacci" (GPP spec, IAB encoder 3.2+) or "fixed" (the IAB encoder before 3.2)
    range_coding: str = "fibonacci"

    @property
    def vendor_express_consent(self) -> frozenset[int]:
        """Vendor ids with express consent."""
        return self.vendor_express_consent_vector.ids

    @property
    def vendor_implied_consent(self) -> frozenset[int]:
        """Vendor ids with implied consent."""
        return self.vendor_implied_consent_vector.ids

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        disclosed = self.disclosed_vendor_vector
        return {
            "version": self.version,
            "cmp_id": self.cmp_id,
            "cmp_version": self.cmp_version,
            "consent_language": self.consent_language,
            "vendor_list_version": self.vendor_list_version,
            "tcf_policy_version": self.tcf_policy_version,
            "use_non_standard_stacks": self.use_non_standard_stacks,
            "special_feature_express_consent": sorted(self.special_feature_express_consent),
            "purposes_express_consent": sorted(self.purposes_express_consent),
            "purposes_implied_consent": sorted(self.purposes_implied_consent),
            "vendor_express_consent": self.vendor_express_consent_vector.sorted_ids(),
            "vendor_implied_consent": self.vendor_implied_consent_vector.sorted_ids(),
            "publisher_restrictions": [r.to_dict() for r in self.publisher_restrictions],
            "disclosed_vendors": None if disclosed is None else disclosed.sorted_ids(),
            "publisher_purposes": None
            if self.publisher_purposes is None
            else self.publisher_purposes.to_dict(),
            "range_coding": self.range_coding,
        }

    def gpp_fields(self) -> dict[str, Any]:
        """The fields under their GPP names and in the IAB API's shapes (bitfields as booleans).

        Absent segments report the IAB defaults, as ``__gpp('getField', ...)`` does.
        """
        if not self.valid:
            return {"valid": False, "error": self.error}
        pub = self.publisher_purposes or PublisherTC()
        custom = pub.num_custom_purposes
        disclosed = self.disclosed_vendor_vector
        return {
            "Version": self.version,
            "Created": _iso_ms(self.created),
            "LastUpdated": _iso_ms(self.last_updated),
            "CmpId": self.cmp_id,
            "CmpVersion": self.cmp_version,
            "ConsentScreen": self.consent_screen,
            "ConsentLanguage": self.consent_language,
            "VendorListVersion": self.vendor_list_version,
            "TcfPolicyVersion": self.tcf_policy_version,
            "UseNonStandardStacks": self.use_non_standard_stacks,
            "SpecialFeatureExpressConsent": _flags(self.special_feature_express_consent, 12),
            "PurposesExpressConsent": _flags(self.purposes_express_consent, 24),
            "PurposesImpliedConsent": _flags(self.purposes_implied_consent, 24),
            "VendorExpressConsent": self.vendor_express_consent_vector.sorted_ids(),
            "VendorImpliedConsent": self.vendor_implied_consent_vector.sorted_ids(),
            "PubRestrictions": [
                {"key": r.purpose, "type": r.restriction_type, "ids": r.sorted_vendors()}
                for r in self.publisher_restrictions
            ],
            "PubPurposesSegmentType": _PUBLISHER_PURPOSES,
            "PubPurposesExpressConsent": _flags(pub.purpose_consents, 24),
            "PubPurposesImpliedConsent": _flags(pub.purpose_li, 24),
            "NumCustomPurposes": custom,
            "CustomPurposesExpressConsent": _flags(pub.custom_purpose_consents, custom),
            "CustomPurposesImpliedConsent": _flags(pub.custom_purpose_li, custom),
            "DisclosedVendorsSegmentType": _DISCLOSED_VENDORS,
            "DisclosedVendors": [] if disclosed is None else disclosed.sorted_ids(),
        }


def _flags(ids: frozenset[int], width: int) -> list[bool]:
    return [i + 1 in ids for i in range(width)]


def _iso_ms(moment: datetime | None) -> str | None:
    # the IAB library reports dates as JavaScript Date.toISOString(): milliseconds and "Z"
    if moment is None:
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


# -- OptimizedRange fields, in both codings ---------------------------------------------------


def _fibonacci_vector(reader: BitReader) -> VendorVector:
    max_id = reader.read_int(16)
    if reader.read_bool():
        return VendorVector(max_id, "range", ranges=reader.read_fibonacci_ranges(max_id))
    return VendorVector(max_id, "bitfield", bitfield=reader.read_bits(max_id))


def _fibonacci_restrictions(reader: BitReader) -> tuple[PublisherRestriction, ...]:
    out = []
    for _ in range(reader.read_int(12)):
        purpose, kind = reader.read_int(6), reader.read_int(2)
        vector = _fibonacci_vector(reader)
        out.append(PublisherRestriction(purpose, kind, _vector_ranges(vector)))
    return tuple(out)


def _vector_ranges(vector: VendorVector) -> Ranges:
    # a bitfield's runs of ones, never its expanded ids
    return vector.ranges if vector.encoding == "range" else vector.intervals


# Fibonacci code weights 1, 2, 3, 5, ... beyond the largest id (65535)
_FIB_WEIGHTS = [1, 2]
while _FIB_WEIGHTS[-1] <= 1 << 17:
    _FIB_WEIGHTS.append(_FIB_WEIGHTS[-1] + _FIB_WEIGHTS[-2])


def _fib_len(value: int) -> int:
    # length of the Fibonacci code of value >= 1: one bit per weight up to the largest used, plus the stop bit
    return bisect_right(_FIB_WEIGHTS, value) + 1


def _range_bits(ranges: Iterable[tuple[int, int]], fibonacci: bool, limit: int) -> int:
    """Bits of the range list of ``ranges`` (merged), counting stopped once above ``limit``."""
    total, last = 12, 0
    for start, end in ranges:
        if fibonacci:
            total += 1 + _fib_len(start - last) + (_fib_len(end - start) if end > start else 0)
        else:
            total += 17 if start == end else 33
        if total > limit:
            break
        last = end
    return total


def _canonical(vector: VendorVector, fibonacci: bool) -> bool:
    """Whether the IAB encoder would write this set exactly so (MaxId = top id, shorter form)."""
    if vector.encoding == "bitfield":
        bits = vector.bitfield
        if vector.max_id != bits.rfind("1") + 1:
            return False
        # every run of ones costs at least 3 (fibonacci) or 17 (fixed) bits as a range entry
        runs = bits.count("01") + bits.startswith("1")
        if 12 + runs * (3 if fibonacci else 17) > vector.max_id:
            return True
        return _range_bits(vector.intervals, fibonacci, vector.max_id) > vector.max_id
    merged = merge_ranges(vector.ranges)
    if vector.max_id != (merged[-1][1] if merged else 0):
        return False
    return _range_bits(merged, fibonacci, vector.max_id) <= vector.max_id and vector.ranges == merged


# -- segments ---------------------------------------------------------------------------------


def _read_language(reader: BitReader) -> str:
    # FixedString(2): A-Z as 0-25, 63 = space (the IAB encoder pads a short value with spaces)
    out = ""
    for _ in range(2):
        code = reader.read_int(6)
        if code > 25 and code != 63:
            raise DecodeError(f"invalid letter code {code} at bit {reader.pos - 6}")
        out += " " if code == 63 else chr(65 + code)
    return out.strip()


def _read_core(bits: str, fibonacci: bool, trailing_ok: bool = False) -> dict[str, Any]:
    reader = BitReader(bits)
    out: dict[str, Any] = read_core_header(reader, _VERSION, _read_language)
    read_vector = _fibonacci_vector if fibonacci else read_vendor_vector
    out |= {
        "use_non_standard_stacks": reader.read_bool(),
        "special_feature_express_consent": reader.read_ids(12),
        "purposes_express_consent": reader.read_ids(24),
        "purposes_implied_consent": reader.read_ids(24),
        "vendor_express_consent_vector": read_vector(reader),
        "vendor_implied_consent_vector": read_vector(reader),
    }
    # PubRestrictions is optional at the end (older strings stop before it): fewer than its
    # 12-bit count left can only be padding, which expect_end checks
    if reader.remaining >= 12:
        read = _fibonacci_restrictions if fibonacci else read_restrictions
        out["publisher_restrictions"] = read(reader)
    reader.expect_end(trailing_ok=trailing_ok)
    out["range_coding"] = "fibonacci" if fibonacci else "fixed"
    return out


def _core_canonical(fields: dict[str, Any], fibonacci: bool) -> bool:
    vectors = [fields["vendor_express_consent_vector"], fields["vendor_implied_consent_vector"]]
    restrictions: tuple[PublisherRestriction, ...] = fields.get("publisher_restrictions", ())
    return all(_canonical(v, fibonacci) for v in vectors) and all(
        r.ranges == merge_ranges(r.ranges) for r in restrictions
    )


def _read_disclosed(bits: str, fibonacci: bool) -> VendorVector:
    reader = BitReader(bits, 3)
    vector = _fibonacci_vector(reader) if fibonacci else read_vendor_vector(reader)
    # the pre-Fibonacci IAB encoder padded this segment to 24 bits
    reader.expect_end(word_padded=not fibonacci)
    return vector


def _either_coding(bits: str, read: Callable[[str, bool], _T], canonical: Callable[[_T, bool], bool]) -> _T:
    """Fibonacci first, then the legacy fixed-width coding, as the IAB decoder tries them."""
    fits: list[_T] = []
    first_error: DecodeError | None = None
    for fibonacci in (True, False):
        try:
            value = read(bits, fibonacci)
        except DecodeError as exc:
            first_error = first_error or exc
            continue
        if canonical(value, fibonacci):
            return value
        fits.append(value)
    if fits:
        return fits[0]
    assert first_error is not None
    raise first_error


def _read_publisher_purposes(bits: str) -> PublisherTC:
    reader = BitReader(bits, 3)
    purposes = read_publisher_tc(reader)
    reader.expect_end()
    return purposes


def _decode(value: str) -> TcfCaString:
    core, *others = value.split(".")
    core_bits = base64url_bits(core)
    try:
        fields = _either_coding(core_bits, _read_core, _core_canonical)
    except DecodeError:
        # neither coding fits exactly: the IAB decoder ignores bits after the last field, and so do
        # we once a whole layout was read (a short core still fails)
        fields = _either_coding(core_bits, partial(_read_core, trailing_ok=True), _core_canonical)
    for segment in others:
        bits = base64url_bits(segment)
        kind = int(bits[:3], 2)
        name = _SEGMENT_FIELDS.get(kind)
        if name is None or name in fields:
            raise DecodeError(f"unexpected segment type {kind}")
        if kind == _DISCLOSED_VENDORS:
            fields[name] = _either_coding(bits, _read_disclosed, _canonical)
        else:
            fields[name] = _read_publisher_purposes(bits)
    return TcfCaString(valid=True, **fields)


def decode_tcf_ca(value: object) -> TcfCaString:
    """Decode a ``tcfcav1`` section string. Never raises."""
    if not isinstance(value, str) or not value:
        return TcfCaString(valid=False, error="empty or not a string")
    try:
        return _decode(value)
    except DecodeError as exc:
        return TcfCaString(valid=False, error=f"tcfcav1: {exc}")
    except (ValueError, IndexError, OverflowError) as exc:  # defensive: a decoder bug must not escape
        return TcfCaString(valid=False, error=f"tcfcav1: undecodable ({type(exc).__name__})")


__all__ = ["TcfCaString", "decode_tcf_ca"]
