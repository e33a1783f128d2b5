"""IAB Global Privacy Platform (GPP) string: ``Header~Section~Section...``.

The header is base64url: Type(6) = 3, Version(6) = 1, then a Fibonacci-coded range of
section ids (count, then per item a group flag, an offset from the previous id and, for
groups, a length). Sections follow in header order: ``tcfeuv2`` (2) is a TC string,
``tcfcav1`` (5) the Canadian TCF, ``uspv1`` (6) a US Privacy string, ``usnat`` (7) and the
US states (8-27) are decoded by :mod:`relay.consent.us_section`; other ids are kept raw.

A malformed header, a section count that does not match the header, or an empty section makes
the whole string invalid. Sections are then decoded independently: a malformed section is kept
as an invalid section (never decoded "best effort") and does not take the others with it, so
that a broken ``tcfcav1`` cannot hide the opt-out of a valid ``usnat``
(:attr:`GppString.section_errors` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from relay.consent.bits import BitReader, DecodeError, base64url_bits, decode_or_invalid, decode_text
from relay.consent.tcf import TCString, decode_tc_string
from relay.consent.tcfca import TcfCaString, decode_tcf_ca
from relay.consent.us_section import LAYOUTS, UsSection, decode_us_section
from relay.consent.usp import UsPrivacy, decode_us_privacy

SECTION_NAMES: Mapping[int, str] = MappingProxyType(
    {1: "tcfeuv1", 2: "tcfeuv2", 3: "header", 4: "signal_integrity", 5: "tcfcav1", 6: "uspv1"}
    | {sid: layout.name for sid, layout in LAYOUTS.items()}
)
SECTION_IDS: Mapping[str, int] = MappingProxyType({name: sid for sid, name in SECTION_NAMES.items()})
_MAX_TEXT = 65536


@dataclass(frozen=True)
class RawSection:
    """A section the relay does not decode (deprecated or unknown id), kept as its string."""

    section_id: int
    value: str
    valid: bool = True
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"raw": self.value}


GppSection = TCString | TcfCaString | UsPrivacy | UsSection | RawSection


@dataclass(frozen=True)
class GppString:
    """A decoded GPP string. When ``valid`` is false only ``error`` is meaningful."""

    valid: bool
    error: str | None = None
    version: int = 0
    section_ids: tuple[int, ...] = ()
    sections: Mapping[int, GppSection] = field(default_factory=dict)

    @property
    def section_names(self) -> tuple[str, ...]:
        """API prefixes of the sections, in header order (``"usnat"``, ``"uspv1"``...)."""
        return tuple(SECTION_NAMES.get(sid, str(sid)) for sid in self.section_ids)

    @property
    def section_errors(self) -> dict[int, str]:
        """The sections that failed to decode: id -> short error (never containing the input)."""
        return {sid: s.error or "invalid" for sid, s in self.sections.items() if not s.valid}

    @property
    def complete(self) -> bool:
        """Valid, and every section decoded."""
        return self.valid and all(s.valid for s in self.sections.values())

    def section(self, key: int | str) -> GppSection | None:
        """A section by id or API prefix (valid or not: check ``.valid``), or None."""
        sid = SECTION_IDS.get(key) if isinstance(key, str) else key
        return None if sid is None else self.sections.get(sid)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: section ids and names, and each section's fields by name."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        return {
            "version": self.version,
            "section_ids": list(self.section_ids),
            "section_names": list(self.section_names),
            "sections": {
                SECTION_NAMES.get(sid, str(sid)): _section_dict(s) for sid, s in self.sections.items()
            },
        }


def _section_dict(section: GppSection) -> dict[str, Any]:
    if not section.valid:
        return {"valid": False, "error": section.error}
    return section.gpp_fields() if isinstance(section, UsPrivacy | TcfCaString) else section.to_dict()


def read_section_ids(reader: BitReader) -> tuple[int, ...]:
    """The Fibonacci-coded id range of a GPP header."""
    # real ids are below 64: refuse a hostile group before expanding it
    ranges = reader.read_fibonacci_ranges(limit=4096)
    return tuple(sid for start, end in ranges for sid in range(start, end + 1))


def decode_gpp_header(value: object) -> tuple[int, ...] | None:
    """The section ids listed by a GPP header alone (``"DBABM"`` -> ``(2,)``), or None if malformed."""
    if not isinstance(value, str):
        return None
    try:
        return _read_header(value)[1]
    except (DecodeError, ValueError):
        return None


def _read_header(header: str) -> tuple[int, tuple[int, ...]]:
    reader = BitReader(base64url_bits(header))
    kind, version = reader.read_int(6), reader.read_int(6)
    if kind != 3:
        raise DecodeError(f"not a gpp header (type {kind})")
    if version != 1:
        raise DecodeError(f"unsupported gpp version {version}")
    return version, read_section_ids(reader)


def decode_gpp_section(section: int | str, value: str) -> GppSection:
    """Decode one section string by id or API prefix. Never raises; check ``.valid``."""
    sid = SECTION_IDS.get(section, 0) if isinstance(section, str) else section
    if sid == 2:
        return decode_tc_string(value)
    if sid == 5:
        return decode_tcf_ca(value)
    if sid == 6:
        return decode_us_privacy(value)
    if sid in LAYOUTS:
        return decode_us_section(sid, value)
    return RawSection(sid, value)


def _decode(text: str) -> GppString:
    header, *parts = text.split("~")
    version, ids = _read_header(header)
    if len(ids) != len(parts):
        raise DecodeError(f"header lists {len(ids)} sections but string has {len(parts)}")
    empty = next((sid for sid, part in zip(ids, parts, strict=True) if not part), None)
    if empty is not None:
        raise DecodeError(f"section {empty} is empty")
    sections = {sid: decode_gpp_section(sid, part) for sid, part in zip(ids, parts, strict=True)}
    return GppString(True, None, version, ids, MappingProxyType(sections))


@lru_cache(maxsize=1024)
def _decode_cached(text: str) -> GppString:
    return decode_or_invalid(text, _decode, _invalid)


def _invalid(error: str) -> GppString:
    return GppString(valid=False, error=error)


def decode_gpp(value: object) -> GppString:
    """Decode a GPP string. Never raises; anything malformed is ``valid=False``."""
    return decode_text(value, _decode_cached, _invalid, _MAX_TEXT)


def parse_gpp_sid(value: object) -> tuple[int, ...] | None:
    """The applicable section ids from ``gpp_sid`` (``"7,8"``, ``[7, 8]``, ``7``).

    None when absent or unreadable (every present section then applies); ``-1`` (the
    OpenRTB "not applicable" value) gives an empty tuple.
    """
    if value is None or isinstance(value, bool):
        return None
    items: list[object]
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, str):
        items = [p for p in value.replace("_", ",").replace(" ", ",").strip("[]").split(",") if p]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    try:
        ids = [int(i) for i in items if not isinstance(i, bool) and isinstance(i, int | str)]
    except ValueError:
        return None
    if len(ids) != len(items) or not ids:
        return None
    return tuple(sorted({i for i in ids if i > 0}))


__all__ = [
    "SECTION_IDS",
    "SECTION_NAMES",
    "GppSection",
    "GppString",
    "RawSection",
    "decode_gpp",
    "decode_gpp_header",
    "decode_gpp_section",
    "parse_gpp_sid",
]
