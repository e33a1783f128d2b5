"""GPP section 5, ``tcfcav1``: the IAB Canada TCF string.

Same transport as the EU TC string (core first, then optional DisclosedVendors = type 1 and
PublisherPurposes = type 3 segments) with express/implied consent instead of consent/LI.
The relay does not base decisions on it; it is decoded for audits and so that a malformed
section makes the GPP string invalid rather than being silently carried along. The core's
trailing PubRestrictions are not decoded (see :func:`_read_core`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relay.consent.bits import BitReader, DecodeError, base64url_bits
from relay.consent.tcf import PublisherTC, read_datetime, read_publisher_tc, segment_reader
from relay.consent.vendors import VendorVector, read_vendor_vector


@dataclass(frozen=True)
class TcfCaString:
    """A decoded ``tcfcav1`` section. When ``valid`` is false only ``error`` is meaningful."""

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
    use_non_standard_stacks: bool = False
    special_feature_express_consent: frozenset[int] = frozenset()
    purposes_express_consent: frozenset[int] = frozenset()
    purposes_implied_consent: frozenset[int] = frozenset()
    vendor_express_consent_vector: VendorVector = field(default_factory=VendorVector)
    vendor_implied_consent_vector: VendorVector = field(default_factory=VendorVector)
    #: length of the undecoded PubRestrictions tail of the core segment (0 when absent)
    publisher_restrictions_bits: int = 0
    disclosed_vendor_vector: VendorVector | None = None
    publisher_purposes: PublisherTC | None = None

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
            "vendor_express_consent": sorted(self.vendor_express_consent),
            "vendor_implied_consent": sorted(self.vendor_implied_consent),
            "disclosed_vendors": None if disclosed is None else sorted(disclosed.ids),
            "publisher_purposes": None
            if self.publisher_purposes is None
            else self.publisher_purposes.to_dict(),
        }


def _read_core(reader: BitReader) -> dict[str, Any]:
    version = reader.read_int(6)
    if version >= 8:  # the first 3 bits would make it a typed (non-core) segment
        raise DecodeError("first segment is not a core segment")
    out: dict[str, Any] = {
        "version": version,
        "created": read_datetime(reader),
        "last_updated": read_datetime(reader),
        "cmp_id": reader.read_int(12),
        "cmp_version": reader.read_int(12),
        "consent_screen": reader.read_int(6),
        "consent_language": reader.read_letters(2),
        "vendor_list_version": reader.read_int(12),
        "tcf_policy_version": reader.read_int(6),
        "use_non_standard_stacks": reader.read_bool(),
        "special_feature_express_consent": reader.read_ids(12),
        "purposes_express_consent": reader.read_ids(24),
        "purposes_implied_consent": reader.read_ids(24),
        "vendor_express_consent_vector": read_vendor_vector(reader),
        "vendor_implied_consent_vector": read_vendor_vector(reader),
    }
    # PubRestrictions follow in newer strings, in two incompatible encodings across reference
    # encoders (fixed-width or Fibonacci ranges): left undecoded, as the relay does not use them.
    out["publisher_restrictions_bits"] = reader.remaining
    return out


def decode_tcf_ca(value: object) -> TcfCaString:
    """Decode a ``tcfcav1`` section string. Never raises."""
    if not isinstance(value, str) or not value:
        return TcfCaString(valid=False, error="empty or not a string")
    try:
        segments = value.split(".")
        fields = _read_core(BitReader(base64url_bits(segments[0])))
        for segment in segments[1:]:
            kind, reader = segment_reader(segment)
            name = {1: "disclosed_vendor_vector", 3: "publisher_purposes"}.get(kind)
            if name is None or name in fields:
                raise DecodeError(f"unexpected segment type {kind}")
            fields[name] = read_vendor_vector(reader) if kind == 1 else read_publisher_tc(reader)
        return TcfCaString(valid=True, **fields)
    except DecodeError as exc:
        return TcfCaString(valid=False, error=f"tcfcav1: {exc}")
    except (ValueError, IndexError, OverflowError) as exc:  # defensive: a decoder bug must not escape
        return TcfCaString(valid=False, error=f"tcfcav1: undecodable ({type(exc).__name__})")


__all__ = ["TcfCaString", "decode_tcf_ca"]
