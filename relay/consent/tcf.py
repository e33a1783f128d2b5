"""IAB TCF v2 TC string decoder (core, DisclosedVendors, AllowedVendors and Publisher TC segments).

Strict on structure, as the relay must never "best effort" a consent string: the core segment
comes first and has version 2, every field must be present (truncation is an error), segment
types 1-3 may follow once each, vendor ranges stay within MaxVendorId. Anything else gives a
:class:`TCString` with ``valid=False`` and a short ``error``; no exception escapes.
Whether a *valid* string is usable under current policy (TCF 2.2+, service-specific) is a
separate question answered by :attr:`TCString.usable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from relay.consent.bits import BitReader, DecodeError, base64url_bits, decode_or_invalid, decode_text
from relay.consent.vendors import (
    PublisherRestriction,
    RestrictionIndex,
    VendorVector,
    read_restrictions,
    read_vendor_vector,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Lowest TcfPolicyVersion the relay accepts: 4 = TCF 2.2.
MIN_POLICY_VERSION = 4
_MAX_TEXT = 65536


@dataclass(frozen=True)
class PublisherTC:
    """The Publisher TC segment: the site owner's own purposes and custom purposes."""

    purpose_consents: frozenset[int] = frozenset()
    purpose_li: frozenset[int] = frozenset()
    num_custom_purposes: int = 0
    custom_purpose_consents: frozenset[int] = frozenset()
    custom_purpose_li: frozenset[int] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form with sorted id lists."""
        return {
            "purpose_consents": sorted(self.purpose_consents),
            "purpose_li": sorted(self.purpose_li),
            "custom_purpose_consents": sorted(self.custom_purpose_consents),
            "custom_purpose_li": sorted(self.custom_purpose_li),
        }


@dataclass(frozen=True)
class CoreHeader:
    """The fields every TCF core segment opens with (EU TC string and Canada ``tcfcav1``)."""

    valid: bool
    error: str | None = None
    version: int = 0
    created: datetime | None = None
    last_updated: datetime | None = None
    cmp_id: int = 0
    cmp_version: int = 0
    consent_screen: int = 0
    consent_language: str = ""
    vendor_list_version: int = 0
    tcf_policy_version: int = 0


@dataclass(frozen=True)
class TCString(CoreHeader):
    """A decoded TC string. When ``valid`` is false only ``error`` is meaningful."""

    is_service_specific: bool = False
    use_non_standard_texts: bool = False
    special_feature_optins: frozenset[int] = frozenset()
    purpose_consents: frozenset[int] = frozenset()
    purpose_li: frozenset[int] = frozenset()
    purpose_one_treatment: bool = False
    publisher_cc: str = ""
    vendor_consent_vector: VendorVector = field(default_factory=VendorVector)
    vendor_li_vector: VendorVector = field(default_factory=VendorVector)
    publisher_restrictions: tuple[PublisherRestriction, ...] = ()
    disclosed_vendor_vector: VendorVector | None = None
    allowed_vendor_vector: VendorVector | None = None
    publisher_tc: PublisherTC | None = None

    @property
    def vendor_consents(self) -> frozenset[int]:
        """Vendor ids with consent, expanded (for reports; decisions use :meth:`has_vendor_consent`)."""
        return self.vendor_consent_vector.ids

    @property
    def vendor_li(self) -> frozenset[int]:
        """Vendor ids with legitimate interest established (the expanded set, as :attr:`vendor_consents`)."""
        return self.vendor_li_vector.ids

    @property
    def disclosed_vendors(self) -> frozenset[int] | None:
        """Vendor ids the CMP disclosed, or None without a DisclosedVendors segment (expanded set)."""
        vector = self.disclosed_vendor_vector
        return None if vector is None else vector.ids

    @property
    def max_vendor_id(self) -> int:
        """MaxVendorId of the vendor consent section."""
        return self.vendor_consent_vector.max_id

    @property
    def max_vendor_id_li(self) -> int:
        """MaxVendorId of the vendor legitimate-interest section."""
        return self.vendor_li_vector.max_id

    @property
    def usable(self) -> bool:
        """Valid, policy version 4 (TCF 2.2) or later, and service-specific: the relay may rely on it."""
        return self.unusable_reason is None

    @property
    def unusable_reason(self) -> str | None:
        """Why the relay may not rely on this string, or None when it may."""
        if not self.valid:
            return self.error or "undecodable"
        if self.tcf_policy_version < MIN_POLICY_VERSION:
            return f"policy version {self.tcf_policy_version}"
        if not self.is_service_specific:
            return "not service-specific"
        return None

    def has_vendor_consent(self, vendor_id: int) -> bool:
        """Whether ``vendor_id`` has consent (O(1) for bitfields, a binary search for ranges;
        ids above MaxVendorId: no)."""
        return vendor_id in self.vendor_consent_vector

    @cached_property
    def _restriction_index(self) -> RestrictionIndex:
        return RestrictionIndex(self.publisher_restrictions)

    def restriction(self, purpose: int, vendor_id: int) -> int | None:
        """The publisher restriction type on (purpose, vendor), or None.

        Of the restrictions that name the purpose and cover the vendor, the most restrictive gives the
        type (0, then 2, then 1; consent.md §1.2: type 0 always wins), found by binary search in an index
        built once per string.
        """
        if not isinstance(vendor_id, int) or not self.publisher_restrictions:
            return None
        return self._restriction_index.get(purpose, vendor_id)

    def findings(self) -> tuple[str, ...]:
        """Policy problems of a valid string beyond :attr:`usable` (informational, for audits)."""
        if not self.valid:
            return ()
        out = []
        if self.tcf_policy_version >= MIN_POLICY_VERSION and self.purpose_li & {3, 4, 5, 6}:
            out.append("li set for purposes 3-6")
        if self.disclosed_vendor_vector is None:
            out.append("no disclosed vendors segment")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; field names follow the project's test vectors."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        disclosed = self.disclosed_vendor_vector
        return {
            "valid": True,
            "version": self.version,
            "created": _iso(self.created),
            "last_updated": _iso(self.last_updated),
            "cmp_id": self.cmp_id,
            "cmp_version": self.cmp_version,
            "consent_screen": self.consent_screen,
            "consent_language": self.consent_language,
            "vendor_list_version": self.vendor_list_version,
            "tcf_policy_version": self.tcf_policy_version,
            "is_service_specific": self.is_service_specific,
            "use_non_standard_texts": self.use_non_standard_texts,
            "special_feature_optins": sorted(self.special_feature_optins),
            "purpose_consents": sorted(self.purpose_consents),
            "purpose_li": sorted(self.purpose_li),
            "purpose_one_treatment": self.purpose_one_treatment,
            "publisher_cc": self.publisher_cc,
            "max_vendor_id": self.max_vendor_id,
            "vendor_consent_encoding": self.vendor_consent_vector.encoding,
            "vendor_consents": self.vendor_consent_vector.sorted_ids(),
            "vendor_consents_count": len(self.vendor_consent_vector),
            "max_vendor_id_li": self.max_vendor_id_li,
            "vendor_li_encoding": self.vendor_li_vector.encoding,
            "vendor_li": self.vendor_li_vector.sorted_ids(),
            "vendor_li_count": len(self.vendor_li_vector),
            "publisher_restrictions": [r.to_dict() for r in self.publisher_restrictions],
            "publisher_restrictions_count": len(self.publisher_restrictions),
            "disclosed_vendors": None if disclosed is None else disclosed.sorted_ids(),
            "disclosed_vendors_count": None if disclosed is None else len(disclosed),
            "publisher_tc": None if self.publisher_tc is None else self.publisher_tc.to_dict(),
        }


def _iso(moment: datetime | None) -> str | None:
    # TC strings count deciseconds: "2020-04-03T11:43:31.6Z"
    if moment is None:
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 100_000}Z"


def read_datetime(reader: BitReader) -> datetime:
    """A 36-bit count of deciseconds since the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=reader.read_int(36) * 100)


def read_publisher_tc(reader: BitReader) -> PublisherTC:
    """The body of a Publisher TC segment (after its 3-bit segment type)."""
    consents = reader.read_ids(24)
    li = reader.read_ids(24)
    count = reader.read_int(6)
    return PublisherTC(consents, li, count, reader.read_ids(count), reader.read_ids(count))


def segment_reader(segment: str) -> tuple[int, BitReader]:
    """The 3-bit SegmentType of a non-core segment and a reader positioned after it."""
    reader = BitReader(base64url_bits(segment))
    return reader.read_int(3), reader


def read_core_header(
    reader: BitReader, version: int, read_language: Callable[[BitReader], str]
) -> dict[str, Any]:
    """The :class:`CoreHeader` fields, in segment order; a version other than ``version`` is an error."""
    found = reader.read_int(6)
    if found != version:
        raise DecodeError(f"unsupported version {found}")
    return {
        "version": found,
        "created": read_datetime(reader),
        "last_updated": read_datetime(reader),
        "cmp_id": reader.read_int(12),
        "cmp_version": reader.read_int(12),
        "consent_screen": reader.read_int(6),
        "consent_language": read_language(reader),
        "vendor_list_version": reader.read_int(12),
        "tcf_policy_version": reader.read_int(6),
    }


def _read_language(reader: BitReader) -> str:
    return reader.read_letters(2)


def _read_core(reader: BitReader) -> dict[str, Any]:
    return {
        **read_core_header(reader, 2, _read_language),
        "is_service_specific": reader.read_bool(),
        "use_non_standard_texts": reader.read_bool(),
        "special_feature_optins": reader.read_ids(12),
        "purpose_consents": reader.read_ids(24),
        "purpose_li": reader.read_ids(24),
        "purpose_one_treatment": reader.read_bool(),
        "publisher_cc": reader.read_letters(2),
        "vendor_consent_vector": read_vendor_vector(reader),
        "vendor_li_vector": read_vendor_vector(reader),
        "publisher_restrictions": read_restrictions(reader),
    }


_SEGMENTS: dict[int, tuple[str, Callable[[BitReader], Any]]] = {
    1: ("disclosed_vendor_vector", read_vendor_vector),
    2: ("allowed_vendor_vector", read_vendor_vector),
    3: ("publisher_tc", read_publisher_tc),
}


def _decode(text: str) -> TCString:
    segments = text.split(".")
    fields = _read_core(BitReader(base64url_bits(segments[0])))
    for segment in segments[1:]:
        kind, reader = segment_reader(segment)
        if kind not in _SEGMENTS:
            raise DecodeError(f"unknown or misplaced segment type {kind}")
        name, read = _SEGMENTS[kind]
        if name in fields:
            raise DecodeError(f"segment type {kind} repeated")
        fields[name] = read(reader)
    return TCString(valid=True, **fields)


@lru_cache(maxsize=1024)
def _decode_cached(text: str) -> TCString:
    # pure function of an immutable string, and the same visitor sends the same string on every hit
    return decode_or_invalid(text, _decode, _invalid)


def _invalid(error: str) -> TCString:
    return TCString(valid=False, error=error)


def decode_tc_string(value: object) -> TCString:
    """Decode a TC string (``euconsent-v2`` / ``gdpr_consent``). Never raises."""
    return decode_text(value, _decode_cached, _invalid, _MAX_TEXT)


__all__ = ["MIN_POLICY_VERSION", "CoreHeader", "PublisherTC", "TCString", "decode_tc_string"]
