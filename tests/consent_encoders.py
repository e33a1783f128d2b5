"""Test-only encoders for TC strings, GPP strings and usnat sections.

Written from the IAB specifications, independently of the decoders in ``relay.consent``, so
that encode -> decode round trips check the decoders, and policy tests can build the exact
strings they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def to_base64url(bits: str) -> str:
    """Bits (a ``"0"``/``"1"`` string) zero-padded to a 6-bit boundary, as URL-safe base64."""
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def uint(value: int, width: int) -> str:
    assert 0 <= value < 1 << width, (value, width)
    return format(value, f"0{width}b")


def bitfield(ids: Iterable[int], width: int) -> str:
    chosen = set(ids)
    return "".join("1" if i + 1 in chosen else "0" for i in range(width))


def letters(text: str) -> str:
    return "".join(uint(ord(c) - 65, 6) for c in text)


def ranges_of(ids: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def range_entries(ranges: Sequence[tuple[int, int]]) -> str:
    bits = uint(len(ranges), 12)
    for start, end in ranges:
        bits += "0" + uint(start, 16) if start == end else "1" + uint(start, 16) + uint(end, 16)
    return bits


def vendor_section(
    ids: Iterable[int], encoding: Literal["bitfield", "range"], max_id: int | None = None
) -> str:
    chosen = sorted(set(ids))
    top = max_id if max_id is not None else (chosen[-1] if chosen else 0)
    if encoding == "bitfield":
        return uint(top, 16) + "0" + bitfield(chosen, top)
    return uint(top, 16) + "1" + range_entries(ranges_of(chosen))


@dataclass
class TcCore:
    """Every core field of a TC string, with TCF 2.2 defaults."""

    version: int = 2
    created: int = 17_000_000_000  # deciseconds since the epoch
    last_updated: int = 17_000_000_000
    cmp_id: int = 31
    cmp_version: int = 2
    consent_screen: int = 1
    consent_language: str = "EN"
    vendor_list_version: int = 141
    tcf_policy_version: int = 5
    is_service_specific: bool = True
    use_non_standard_texts: bool = False
    special_feature_optins: set[int] = field(default_factory=set)
    purpose_consents: set[int] = field(default_factory=set)
    purpose_li: set[int] = field(default_factory=set)
    purpose_one_treatment: bool = False
    publisher_cc: str = "DE"
    vendor_consents: set[int] = field(default_factory=set)
    vendor_consent_encoding: Literal["bitfield", "range"] = "bitfield"
    vendor_li: set[int] = field(default_factory=set)
    vendor_li_encoding: Literal["bitfield", "range"] = "bitfield"
    #: (purpose, type, vendor ids)
    restrictions: list[tuple[int, int, set[int]]] = field(default_factory=list)

    def bits(self) -> str:
        out = uint(self.version, 6) + uint(self.created, 36) + uint(self.last_updated, 36)
        out += uint(self.cmp_id, 12) + uint(self.cmp_version, 12) + uint(self.consent_screen, 6)
        out += letters(self.consent_language) + uint(self.vendor_list_version, 12)
        out += uint(self.tcf_policy_version, 6) + str(int(self.is_service_specific))
        out += str(int(self.use_non_standard_texts)) + bitfield(self.special_feature_optins, 12)
        out += bitfield(self.purpose_consents, 24) + bitfield(self.purpose_li, 24)
        out += str(int(self.purpose_one_treatment)) + letters(self.publisher_cc)
        out += vendor_section(self.vendor_consents, self.vendor_consent_encoding)
        out += vendor_section(self.vendor_li, self.vendor_li_encoding)
        out += uint(len(self.restrictions), 12)
        for purpose, kind, vendors in self.restrictions:
            out += uint(purpose, 6) + uint(kind, 2) + range_entries(ranges_of(vendors))
        return out


def disclosed_segment(ids: Iterable[int], encoding: Literal["bitfield", "range"] = "range") -> str:
    return to_base64url(uint(1, 3) + vendor_section(ids, encoding))


def publisher_tc_segment(
    consents: Iterable[int],
    li: Iterable[int],
    custom: int = 0,
    custom_consents: Iterable[int] = (),
    custom_li: Iterable[int] = (),
) -> str:
    bits = uint(3, 3) + bitfield(consents, 24) + bitfield(li, 24) + uint(custom, 6)
    return to_base64url(bits + bitfield(custom_consents, custom) + bitfield(custom_li, custom))


def tc_string(core: TcCore | None = None, *segments: str, **changes: object) -> str:
    """A TC string: the core (a :class:`TcCore`, with ``changes`` applied) and extra segments."""
    base = core or TcCore()
    for name, value in changes.items():
        setattr(base, name, value)
    return ".".join((to_base64url(base.bits()), *segments))


def consented_tc(
    purposes: Iterable[int] = range(1, 12), vendors: Iterable[int] = (755,), **changes: object
) -> str:
    """A TCF 2.2 service-specific string consenting to ``purposes`` and ``vendors``."""
    core = TcCore(purpose_consents=set(purposes), vendor_consents=set(vendors))
    return tc_string(core, disclosed_segment(vendors), **changes)


USNAT_V1_LISTS = (12, 2)
USNAT_V2_LISTS = (16, 3)
USNAT_SCALARS = (
    "SharingNotice",
    "SaleOptOutNotice",
    "SharingOptOutNotice",
    "TargetedAdvertisingOptOutNotice",
    "SensitiveDataProcessingOptOutNotice",
    "SensitiveDataLimitUseNotice",
    "SaleOptOut",
    "SharingOptOut",
    "TargetedAdvertisingOptOut",
)
USNAT_TAIL = (
    "PersonalDataConsents",
    "MspaCoveredTransaction",
    "MspaOptOutOptionMode",
    "MspaServiceProviderMode",
)


def usnat(fields: Mapping[str, Any], gpc: bool | None = None) -> str:
    """A usnat section; the layout (v1 = 12/2 lists, v2 = 16/3) follows the list lengths given."""
    bits = uint(fields["Version"], 6)
    bits += "".join(uint(fields[name], 2) for name in USNAT_SCALARS)
    for name in ("SensitiveDataProcessing", "KnownChildSensitiveDataConsents"):
        bits += "".join(uint(v, 2) for v in fields[name])
    bits += "".join(uint(fields[name], 2) for name in USNAT_TAIL)
    core = to_base64url(bits)
    return core if gpc is None else core + "." + to_base64url("01" + str(int(gpc)))


def us_state(values: Sequence[int], version_bits: int = 6, gpc: bool | None = None) -> str:
    """A state section from its values in layout order (first = version, then 2-bit fields)."""
    bits = uint(values[0], version_bits) + "".join(uint(v, 2) for v in values[1:])
    core = to_base64url(bits)
    return core if gpc is None else core + "." + to_base64url("01" + str(int(gpc)))


def fibonacci(value: int) -> str:
    """Fibonacci (Zeckendorf) code of a positive integer, terminated by an extra 1."""
    weights = [1, 2]
    while weights[-1] <= value:
        weights.append(weights[-1] + weights[-2])
    bits = ["0"] * len(weights)
    rest = value
    for i in range(len(weights) - 1, -1, -1):
        if weights[i] <= rest:
            bits[i] = "1"
            rest -= weights[i]
    return "".join(bits).rstrip("0") + "1"


def gpp_string(sections: Sequence[tuple[int, str]]) -> str:
    """A GPP string with one header entry (no groups) per section, ids ascending."""
    header = uint(3, 6) + uint(1, 6) + uint(len(sections), 12)
    last = 0
    for sid, _ in sections:
        header += "0" + fibonacci(sid - last)
        last = sid
    return "~".join((to_base64url(header), *(value for _, value in sections)))
