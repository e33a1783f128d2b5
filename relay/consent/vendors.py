"""Vendor id sets as IAB TCF strings encode them: a bitfield or a list of id ranges.

The same encodings serve the TCF v2 vendor consent / legitimate-interest sections, the
DisclosedVendors and AllowedVendors segments, publisher restrictions, and the GPP
Canadian TCF section. Sets are kept in their encoded form and expanded only on demand:
membership tests (the policy needs one vendor) are O(1) for bitfields, and a hostile
range ``1-65535`` costs nothing until someone asks for every id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from relay.consent.bits import BitReader, DecodeError, ids_of

Encoding = Literal["bitfield", "range"]
Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class VendorVector:
    """A set of vendor ids with its encoding details (MaxVendorId, bitfield or ranges)."""

    max_id: int = 0
    encoding: Encoding = "bitfield"
    bitfield: str = field(default="", repr=False)
    ranges: Ranges = field(default=(), repr=False)

    def __contains__(self, vendor_id: object) -> bool:
        if not isinstance(vendor_id, int) or vendor_id < 1:
            return False
        if self.encoding == "bitfield":
            return vendor_id <= len(self.bitfield) and self.bitfield[vendor_id - 1] == "1"
        return any(start <= vendor_id <= end for start, end in self.ranges)

    @cached_property
    def ids(self) -> frozenset[int]:
        """Every id in the set."""
        if self.encoding == "bitfield":
            return ids_of(self.bitfield)
        return _expand(self.ranges)

    def __len__(self) -> int:
        # cheap counts for the common cases, so audits need not expand big sets
        if self.encoding == "bitfield":
            return self.bitfield.count("1")
        if all(prev[1] < cur[0] for prev, cur in zip(self.ranges, self.ranges[1:], strict=False)):
            return sum(end - start + 1 for start, end in self.ranges)
        return len(self.ids)


def _expand(ranges: Ranges) -> frozenset[int]:
    out: set[int] = set()
    for start, end in ranges:
        out.update(range(start, end + 1))
    return frozenset(out)


def read_ranges(reader: BitReader, max_id: int | None = None) -> Ranges:
    """NumEntries(12) then entries of IsARange(1), Start(16)[, End(16)].

    With ``max_id`` every id must lie in 1..max_id (vendor sections); without it
    (publisher restrictions) only 1 <= start <= end is required.
    """
    count = reader.read_int(12)
    # inlined bit reading: strings with hundreds of entries exist and ingest is a hot path
    bits, pos, size = reader.bits, reader.pos, len(reader.bits)
    ranges: list[tuple[int, int]] = []
    for _ in range(count):
        is_range = pos < size and bits[pos] == "1"
        stop = pos + (33 if is_range else 17)
        if stop > size:
            raise DecodeError(f"truncated at bit {pos}")
        start = int(bits[pos + 1 : pos + 17], 2)
        end = int(bits[pos + 17 : stop], 2) if is_range else start
        pos = stop
        if start < 1 or end < start:
            raise DecodeError(f"invalid vendor range ending at bit {pos}")
        if max_id is not None and end > max_id:
            raise DecodeError(f"vendor id above MaxVendorId ending at bit {pos}")
        ranges.append((start, end))
    reader.pos = pos
    return tuple(ranges)


def read_vendor_vector(reader: BitReader) -> VendorVector:
    """MaxVendorId(16), IsRangeEncoding(1), then a MaxVendorId-bit bitfield or a range list."""
    max_id = reader.read_int(16)
    if reader.read_bool():
        return VendorVector(max_id, "range", ranges=read_ranges(reader, max_id))
    return VendorVector(max_id, "bitfield", bitfield=reader.read_bits(max_id))


@dataclass(frozen=True)
class PublisherRestriction:
    """One publisher restriction: for ``purpose``, vendors in the ranges get ``restriction_type``.

    Types: 0 = not allowed, 1 = require consent, 2 = require legitimate interest, 3 = undefined.
    """

    purpose: int
    restriction_type: int
    ranges: Ranges = ()

    def __contains__(self, vendor_id: object) -> bool:
        return isinstance(vendor_id, int) and any(s <= vendor_id <= e for s, e in self.ranges)

    @cached_property
    def vendors(self) -> frozenset[int]:
        """Every vendor id the restriction covers."""
        return _expand(self.ranges)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form: purpose, type and the sorted vendor ids."""
        return {"purpose": self.purpose, "type": self.restriction_type, "vendors": sorted(self.vendors)}


def read_restrictions(reader: BitReader) -> tuple[PublisherRestriction, ...]:
    """NumPubRestrictions(12), then PurposeId(6), RestrictionType(2) and a range list per entry."""
    count = reader.read_int(12)
    out: list[PublisherRestriction] = []
    for _ in range(count):
        purpose = reader.read_int(6)
        kind = reader.read_int(2)
        out.append(PublisherRestriction(purpose, kind, read_ranges(reader)))
    return tuple(out)


__all__ = [
    "PublisherRestriction",
    "VendorVector",
    "read_ranges",
    "read_restrictions",
    "read_vendor_vector",
]
