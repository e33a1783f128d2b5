"""GPP US sections: ``usnat`` (id 7) and the state sections (ids 8-27).

Every field is an unsigned integer: the version is 6 bits, everything else 2 bits (0 = not
applicable, 1 = yes / opted out / notice given, 2 = no). Layouts follow the IAB GPP section
specifications and the reference encoders (iabgpp-es / iabgpp-java). A ``.``-separated
sub-section follows the core: the GPC sub-section (2-bit type, 1-bit Gpc) for most sections,
a sensitive-data consent sub-section for usin/usky/usri.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from relay.consent.bits import BitReader, DecodeError, base64url_bits

FieldSpec = tuple[str, int, int]  # name, bits per value, list length (0 = a single value)
Value = int | tuple[int, ...] | bool


def _ints(*names: str) -> tuple[FieldSpec, ...]:
    return tuple((name, 2, 0) for name in names)


def _list(name: str, count: int) -> tuple[FieldSpec, ...]:
    return ((name, 2, count),) if count else _ints(name)


_VERSION: tuple[FieldSpec, ...] = (("Version", 6, 0),)
_MSPA = _ints("MspaCoveredTransaction", "MspaOptOutOptionMode", "MspaServiceProviderMode")
_SHARING_STATE = _ints("SharingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice")
_PROCESSING_STATE = _ints("ProcessingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice")
_OPT_OUTS = _ints("SaleOptOut", "TargetedAdvertisingOptOut")
_ADPC = _ints("AdditionalDataProcessingConsent")


@dataclass(frozen=True)
class UsLayout:
    """How one US section is laid out."""

    section_id: int
    name: str
    core: tuple[FieldSpec, ...]
    sub: Literal["gpc", "sensitive"] | None = "gpc"


def _state(
    sid: int,
    name: str,
    notices: tuple[FieldSpec, ...],
    sdp: int,
    child: int,
    extra: bool = True,
    gpc: bool = True,
) -> UsLayout:
    core = (
        *_VERSION,
        *notices,
        *_OPT_OUTS,
        *_list("SensitiveDataProcessing", sdp),
        *_list("KnownChildSensitiveDataConsents", child),
        *(_ADPC if extra else ()),
        *_MSPA,
    )
    return UsLayout(sid, name, core, "gpc" if gpc else None)


_USNAT_NOTICES = _ints(
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


def _usnat(sdp: int, child: int) -> UsLayout:
    core = (
        *_VERSION,
        *_USNAT_NOTICES,
        *_list("SensitiveDataProcessing", sdp),
        *_list("KnownChildSensitiveDataConsents", child),
        *_ints("PersonalDataConsents"),
        *_MSPA,
    )
    return UsLayout(7, "usnat", core)


def _mspa_first(sid: int, name: str, child: bool) -> UsLayout:
    # the 2025 sections put the MSPA fields first and move sensitive data to a sub-section
    core = (
        ("MspaVersion", 6, 0),
        *_ints("MspaCoveredTransaction", "MspaMode"),
        *_PROCESSING_STATE,
        *_OPT_OUTS,
        *(_ints("KnownChildSensitiveDataConsents") if child else ()),
        *_ADPC,
    )
    return UsLayout(sid, name, core, "sensitive" if child else "gpc")


_USNAT_V1 = _usnat(12, 2)
_USNAT_V2 = _usnat(16, 3)
_USCA_CORE = (
    *_VERSION,
    *_ints(
        "SaleOptOutNotice",
        "SharingOptOutNotice",
        "SensitiveDataLimitUseNotice",
        "SaleOptOut",
        "SharingOptOut",
    ),
    *_list("SensitiveDataProcessing", 9),
    *_list("KnownChildSensitiveDataConsents", 2),
    *_ints("PersonalDataConsents"),
    *_MSPA,
)
_USUT_NOTICES = (*_SHARING_STATE, *_ints("SensitiveDataProcessingOptOutNotice"))
_USIA_NOTICES = (*_PROCESSING_STATE, *_ints("SensitiveDataOptOutNotice"))

LAYOUTS: dict[int, UsLayout] = {
    layout.section_id: layout
    for layout in (
        _USNAT_V2,
        UsLayout(8, "usca", _USCA_CORE),
        _state(9, "usva", _SHARING_STATE, 8, 0, extra=False, gpc=False),
        _state(10, "usco", _SHARING_STATE, 7, 0, extra=False),
        _state(11, "usut", _USUT_NOTICES, 8, 0, extra=False, gpc=False),
        _state(12, "usct", _SHARING_STATE, 8, 3, extra=False),
        _state(13, "usfl", _PROCESSING_STATE, 8, 3, gpc=False),
        _state(14, "usmt", _SHARING_STATE, 8, 3),
        _state(15, "usor", _PROCESSING_STATE, 11, 3),
        _state(16, "ustx", _PROCESSING_STATE, 8, 0),
        _state(17, "usde", _PROCESSING_STATE, 9, 5),
        _state(18, "usia", _USIA_NOTICES, 8, 0, extra=False),
        _state(19, "usne", _PROCESSING_STATE, 8, 0),
        _state(20, "usnh", _PROCESSING_STATE, 8, 3),
        _state(21, "usnj", _PROCESSING_STATE, 10, 5),
        _state(22, "ustn", _PROCESSING_STATE, 8, 0),
        _state(23, "usmn", _PROCESSING_STATE, 8, 0),
        _mspa_first(24, "usmd", child=False),
        _mspa_first(25, "usin", child=True),
        _mspa_first(26, "usky", child=True),
        _mspa_first(27, "usri", child=True),
    )
}
US_SECTION_IDS: Mapping[str, int] = {layout.name: sid for sid, layout in LAYOUTS.items()}


@dataclass(frozen=True)
class UsSection:
    """A decoded US section. ``fields`` use the IAB field names (``SaleOptOut``, ``Gpc`` ...)."""

    section_id: int
    name: str
    valid: bool
    error: str | None = None
    fields: Mapping[str, Value] = field(default_factory=dict)

    def _is_one(self, key: str) -> bool:
        return self.valid and self.fields.get(key) == 1

    @property
    def sale_opt_out(self) -> bool:
        """SaleOptOut == 1."""
        return self._is_one("SaleOptOut")

    @property
    def sharing_opt_out(self) -> bool:
        """SharingOptOut == 1 (usnat, usca)."""
        return self._is_one("SharingOptOut")

    @property
    def targeted_ads_opt_out(self) -> bool:
        """TargetedAdvertisingOptOut == 1."""
        return self._is_one("TargetedAdvertisingOptOut")

    @property
    def gpc(self) -> bool:
        """The GPC sub-section is present and says Gpc = 1."""
        return self.valid and self.fields.get("Gpc") is True

    @property
    def must_not_sell_share_or_target(self) -> bool:
        """Any ad opt-out: sale, sharing, targeted advertising or GPC."""
        return self.sale_opt_out or self.sharing_opt_out or self.targeted_ads_opt_out or self.gpc

    def ad_opt_out(self) -> dict[str, bool]:
        """The ad-relevant summary."""
        return {
            "sale_opt_out": self.sale_opt_out,
            "sharing_opt_out": self.sharing_opt_out,
            "targeted_ads_opt_out": self.targeted_ads_opt_out,
            "gpc": self.gpc,
            "must_not_sell_share_or_target": self.must_not_sell_share_or_target,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (lists for multi-value fields)."""
        if not self.valid:
            return {"valid": False, "error": self.error}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.fields.items()}


def _read_core(reader: BitReader, layout: UsLayout) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, width, count in layout.core:
        out[name] = reader.read_int_list(count, width) if count else reader.read_int(width)
    return out


def _fit(values: Value, length: int) -> tuple[int, ...]:
    items = values if isinstance(values, tuple) else ()
    return (items + (0,) * length)[:length]


def _usnat_core(bits: str) -> dict[str, Value]:
    # Reference libraries pick the layout by length (60 or 66 bits: v1), not by Version, and
    # report list lengths by Version (1: 12 sensitive categories + 2 child bands, 2+: 16 + 3).
    layout = _USNAT_V1 if len(bits) in (60, 66) else _USNAT_V2
    out = _read_core(BitReader(bits), layout)
    sdp, child = (12, 2) if out["Version"] == 1 else (16, 3)
    out["SensitiveDataProcessing"] = _fit(out["SensitiveDataProcessing"], sdp)
    out["KnownChildSensitiveDataConsents"] = _fit(out["KnownChildSensitiveDataConsents"], child)
    return out


def _read_sub(layout: UsLayout, parts: list[str], out: dict[str, Value]) -> None:
    present = len(parts) > 1
    reader = BitReader(base64url_bits(parts[1])) if present else None
    if layout.sub == "gpc":
        out["GpcSegmentIncluded"] = present
        if reader is not None:
            out["GpcSegmentType"] = reader.read_int(2)
        out["Gpc"] = reader.read_bool() if reader is not None else False
    elif layout.sub == "sensitive":
        out["SensitiveDataConsentSegmentIncluded"] = present
        out["SensitiveDataProcessing"] = reader.read_int_list(8) if reader is not None else (0,) * 8


def _decode(layout: UsLayout, text: str) -> dict[str, Value]:
    parts = text.split(".")
    bits = base64url_bits(parts[0])
    out = _usnat_core(bits) if layout.section_id == 7 else _read_core(BitReader(bits), layout)
    _read_sub(layout, parts, out)
    return out


def decode_us_section(section: int | str, value: object) -> UsSection:
    """Decode one US section string (``section`` is its GPP id or API prefix). Never raises."""
    sid = US_SECTION_IDS.get(section, 0) if isinstance(section, str) else section
    layout = LAYOUTS.get(sid)
    if layout is None:
        return UsSection(sid, str(section), False, "not a us section")
    if not isinstance(value, str) or not value:
        return UsSection(sid, layout.name, False, "empty or not a string")
    try:
        return UsSection(sid, layout.name, True, None, _decode(layout, value))
    except DecodeError as exc:
        return UsSection(sid, layout.name, False, f"{layout.name}: {exc}")
    except (ValueError, IndexError) as exc:  # defensive: a decoder bug must not escape
        return UsSection(sid, layout.name, False, f"{layout.name}: undecodable ({type(exc).__name__})")


__all__ = ["LAYOUTS", "US_SECTION_IDS", "UsLayout", "UsSection", "decode_us_section"]
