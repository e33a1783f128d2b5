"""Vendor id sets as IAB TCF strings encode them: a bitfield or a list of id ranges.

The same encodings serve the TCF v2 vendor consent / legitimate-interest sections, the
DisclosedVendors and AllowedVendors segments, publisher restrictions, and the GPP
Canadian TCF section. Sets are kept as intervals and never expanded on the decision or audit
path: range lists (which a string may give unsorted, overlapping or repeated, e.g. a thousand
copies of ``1-65535``) are merged once into sorted disjoint intervals, membership is a
binary search, and counts are sums of interval lengths. The work per string is therefore
bounded by its length, whatever its ranges cover. Only the id sets and lists asked for
explicitly (:attr:`VendorVector.ids`, ``to_dict``) are expanded, from the merged intervals,
so at most 65535 ids each.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from heapq import heappop, heappush
from itertools import pairwise
from typing import Literal

from relay.consent.bits import BitReader, DecodeError

Encoding = Literal["bitfield", "range"]
Ranges = tuple[tuple[int, int], ...]

_ONES = re.compile("1+")


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """The same ids as sorted, disjoint, non-adjacent ``(start, end)`` intervals.

    Empty intervals (end below start) cover nothing and are dropped. O(n log n) in the number of
    intervals, whatever they cover.
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if end < start:
            continue
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def bitfield_ranges(bits: str) -> Ranges:
    """The runs of ``1`` bits of a bitfield as merged 1-based intervals (bit i-1 = id i)."""
    return tuple((m.start() + 1, m.end()) for m in _ONES.finditer(bits))


def _in_intervals(starts: Sequence[int], intervals: Ranges, value: int) -> bool:
    index = bisect_right(starts, value) - 1
    return index >= 0 and value <= intervals[index][1]


def _expand_sorted(intervals: Ranges) -> list[int]:
    return [i for start, end in intervals for i in range(start, end + 1)]


@dataclass(frozen=True)
class VendorVector:
    """A set of vendor ids with its encoding details (MaxVendorId, bitfield or ranges)."""

    max_id: int = 0
    encoding: Encoding = "bitfield"
    bitfield: str = field(default="", repr=False)
    ranges: Ranges = field(default=(), repr=False)

    @cached_property
    def intervals(self) -> Ranges:
        """The ids as sorted, disjoint, non-adjacent intervals (whatever the encoding)."""
        if self.encoding == "bitfield":
            return bitfield_ranges(self.bitfield)
        return merge_ranges(self.ranges)

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return tuple(start for start, _end in self.intervals)

    def __contains__(self, vendor_id: object) -> bool:
        if not isinstance(vendor_id, int) or vendor_id < 1:
            return False
        if self.encoding == "bitfield":
            return vendor_id <= len(self.bitfield) and self.bitfield[vendor_id - 1] == "1"
        return _in_intervals(self._starts, self.intervals, vendor_id)

    def __len__(self) -> int:
        # arithmetic on the merged intervals: a count never expands the set
        if self.encoding == "bitfield":
            return self.bitfield.count("1")
        return sum(end - start + 1 for start, end in self.intervals)

    @cached_property
    def ids(self) -> frozenset[int]:
        """Every id in the set (expanded from the merged intervals: at most MaxVendorId ids).

        For reports and tests; decisions use ``in`` and counts ``len()``, which never expand.
        """
        return frozenset(_expand_sorted(self.intervals))

    def sorted_ids(self) -> list[int]:
        """Every id in the set, ascending (at most MaxVendorId ids)."""
        return _expand_sorted(self.intervals)


def read_ranges(reader: BitReader, max_id: int | None = None) -> Ranges:
    """NumEntries(12) then entries of IsARange(1), Start(16)[, End(16)].

    With ``max_id`` every id must lie in 1..max_id (vendor sections); without it
    (publisher restrictions) only 1 <= start <= end is required. The entries are returned as
    written (in order, possibly overlapping); consumers merge them (:func:`merge_ranges`).
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

    @cached_property
    def intervals(self) -> Ranges:
        """The vendor ids as sorted, disjoint, non-adjacent intervals."""
        return merge_ranges(self.ranges)

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return tuple(start for start, _end in self.intervals)

    def __contains__(self, vendor_id: object) -> bool:
        return isinstance(vendor_id, int) and _in_intervals(self._starts, self.intervals, vendor_id)

    @cached_property
    def vendors(self) -> frozenset[int]:
        """Every vendor id the restriction covers (expanded from the merged intervals: at most 65535)."""
        return frozenset(_expand_sorted(self.intervals))

    def sorted_vendors(self) -> list[int]:
        """Every vendor id the restriction covers, ascending (at most 65535)."""
        return _expand_sorted(self.intervals)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form: purpose, type and the sorted vendor ids."""
        return {"purpose": self.purpose, "type": self.restriction_type, "vendors": self.sorted_vendors()}


def read_restrictions(reader: BitReader) -> tuple[PublisherRestriction, ...]:
    """NumPubRestrictions(12), then PurposeId(6), RestrictionType(2) and a range list per entry."""
    count = reader.read_int(12)
    out: list[PublisherRestriction] = []
    for _ in range(count):
        purpose = reader.read_int(6)
        kind = reader.read_int(2)
        out.append(PublisherRestriction(purpose, kind, read_ranges(reader)))
    return tuple(out)


@dataclass(frozen=True)
class _TypeMap:
    """Sorted disjoint intervals of vendor ids, each with the restriction type that applies."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    types: tuple[int, ...]

    def get(self, vendor_id: int) -> int | None:
        index = bisect_right(self.starts, vendor_id) - 1
        return self.types[index] if index >= 0 and vendor_id <= self.ends[index] else None


def _first_match_map(items: list[tuple[int, int, int, int]]) -> _TypeMap:
    """For (start, end, order, type) intervals: per id, the type of the lowest-order interval covering it.

    A sweep over the interval bounds with a heap of the intervals open at each bound:
    O(n log n) in the number of intervals, whatever they cover.
    """
    items.sort()
    bounds = sorted({start for start, *_ in items} | {end + 1 for _, end, *_ in items})
    open_: list[tuple[int, int, int]] = []  # (order, end, type); the lowest order first
    starts: list[int] = []
    ends: list[int] = []
    types: list[int] = []
    next_item, previous = 0, (0, 0)
    for here, following in pairwise(bounds):
        while next_item < len(items) and items[next_item][0] <= here:
            start, end, order, kind = items[next_item]
            next_item += 1
            if (start, end) != previous:  # a repeated interval: the first (lowest order) one decides
                heappush(open_, (order, end, kind))
                previous = (start, end)
        while open_ and open_[0][1] < here:  # closed before this bound
            heappop(open_)
        if not open_:
            continue
        kind = open_[0][2]
        if ends and ends[-1] == here - 1 and types[-1] == kind:
            ends[-1] = following - 1
        else:
            starts.append(here)
            ends.append(following - 1)
            types.append(kind)
    return _TypeMap(tuple(starts), tuple(ends), tuple(types))


#: how restrictive each restriction type is, for a relay that sends on consent only: 0 (not allowed) wins
#: over 2 (require legitimate interest: consent is not the basis the publisher allows), over 1 (require
#: consent), over 3 (undefined) (consent.md §1.2: "type 0 always wins")
_RANK = {0: 0, 2: 1, 1: 2}
#: more than the restrictions a string can hold (12 bits), so that the rank decides before string order
_ORDER_SPAN = 1 << 13


class RestrictionIndex:
    """Publisher restrictions indexed for lookups: (purpose, vendor) -> the restriction type.

    When several restrictions name the purpose and cover the vendor, the most restrictive type answers
    (:data:`_RANK`), then the first in string order; found by binary search. A purpose's map is built on
    its first lookup, in O(n log n) in the number of its ranges.
    """

    __slots__ = ("_maps", "_pending")

    def __init__(self, restrictions: Iterable[PublisherRestriction]) -> None:
        self._pending: dict[int, list[tuple[int, PublisherRestriction]]] = {}
        for order, r in enumerate(restrictions):
            self._pending.setdefault(r.purpose, []).append((order, r))
        self._maps: dict[int, _TypeMap] = {}

    def _build(self, purpose: int) -> _TypeMap | None:
        entries = self._pending.get(purpose)
        if entries is None:
            return None
        # each restriction's ranges merged first (not through its cached property: a string may
        # hold a thousand restrictions), so that the sweep sees few intervals
        items = [
            (start, end, _RANK.get(r.restriction_type, 3) * _ORDER_SPAN + order, r.restriction_type)
            for order, r in entries
            for start, end in (r.ranges if len(r.ranges) < 2 else merge_ranges(r.ranges))
        ]
        built = self._maps[purpose] = _first_match_map(items)
        return built

    def get(self, purpose: int, vendor_id: int) -> int | None:
        """The restriction type on (purpose, vendor), or None when no restriction covers it."""
        found = self._maps.get(purpose) or self._build(purpose)
        return None if found is None else found.get(vendor_id)


__all__ = [
    "PublisherRestriction",
    "RestrictionIndex",
    "VendorVector",
    "bitfield_ranges",
    "merge_ranges",
    "read_ranges",
    "read_restrictions",
    "read_vendor_vector",
]
