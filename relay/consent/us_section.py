"""GPP US sections: ``usnat`` (id 7) and the state sections (ids 8-27).

Every field is an unsigned integer: the version is 6 bits, everything else 2 bits (0 = not
applicable, 1 = yes / opted out / notice given, 2 = no). Layouts follow the IAB GPP section
specifications and the reference encoders (iabgpp-es / iabgpp-java). A ``.``-separated
sub-section follows the core: the GPC sub-section (2-bit type, 1-bit Gpc) for most sections,
a sensitive-data consent sub-section for usin/usky/usri, none for usva/usut/usfl.

Strict: the version must be one whose layout is known (1; usnat also 2) and the bit length
must be exactly that layout's, up to zero padding to the next character (the IAB encoder pads
to a byte first); extra sub-sections, or a sub-section of another type, make the section invalid.
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


def _read_core(bits: str, layout: UsLayout, *, trailing_ok: bool = False) -> dict[str, Value]:
    reader = BitReader(bits)
    out: dict[str, Value] = {}
    for name, width, count in layout.core:
        out[name] = reader.read_int_list(count, width) if count else reader.read_int(width)
    reader.expect_end(trailing_ok=trailing_ok)
    return out


def _read_core_or_longer(bits: str, layout: UsLayout) -> dict[str, Value]:
    """The exact layout, else the layout followed by bits the IAB decoders ignore (never a shorter one)."""
    try:
        return _read_core(bits, layout)
    except DecodeError:
        return _read_core(bits, layout, trailing_ok=True)


def _check_version(out: Mapping[str, Value], name: str) -> None:
    version = out.get("Version", out.get("MspaVersion"))
    if version != 1:
        raise DecodeError(f"unsupported {name} version {version}")


def _usnat_core(bits: str) -> dict[str, Value]:
    # The layout follows Version and the length must match it exactly. Version 2 is 70 bits (16
    # sensitive categories + 3 child bands); a Version 2 at the 60-bit v1 length is a truncated
    # section and is refused. Version 1 is the 60-bit layout, or the 70-bit one that the IAB
    # encoder wrote with Version 1 before 3.2; like the IAB decoder, the relay then reports the
    # lists at their version 1 lengths (12 + 2).
    version = int(bits[:6], 2)
    if version == 2:
        return _read_core_or_longer(bits, _USNAT_V2)
    if version != 1:
        raise DecodeError(f"unsupported usnat version {version}")
    try:
        return _read_core(bits, _USNAT_V1)
    except DecodeError:
        try:
            out = _read_core(bits, _USNAT_V2)
        except DecodeError:
            return _read_core(bits, _USNAT_V1, trailing_ok=True)
    for key, length in (("SensitiveDataProcessing", 12), ("KnownChildSensitiveDataConsents", 2)):
        values = out[key]
        out[key] = values[:length] if isinstance(values, tuple) else values
    return out


def _read_gpc(text: str, out: dict[str, Value]) -> None:
    reader = BitReader(base64url_bits(text))
    kind = reader.read_int(2)
    if kind != 1:
        raise DecodeError(f"sub-section type {kind} is not gpc (1)")
    out["GpcSegmentType"] = kind
    out["Gpc"] = reader.read_bool()
    reader.expect_end()


def _read_sensitive(text: str) -> tuple[int, ...]:
    reader = BitReader(base64url_bits(text))
    values = reader.read_int_list(8)
    reader.expect_end()
    return values


def _read_sub(layout: UsLayout, parts: list[str], out: dict[str, Value]) -> None:
    allowed = 0 if layout.sub is None else 1
    if len(parts) - 1 > allowed:
        raise DecodeError(f"{len(parts) - 1} sub-sections where the layout allows {allowed}")
    present = len(parts) > 1
    if layout.sub == "gpc":
        out["GpcSegmentIncluded"] = present
        out["Gpc"] = False
        if present:
            _read_gpc(parts[1], out)
    elif layout.sub == "sensitive":
        out["SensitiveDataConsentSegmentIncluded"] = present
        out["SensitiveDataProcessing"] = _read_sensitive(parts[1]) if present else (0,) * 8


def _decode(layout: UsLayout, text: str) -> dict[str, Value]:
    parts = text.split(".")
    bits = base64url_bits(parts[0])
    if layout.section_id == 7:
        out = _usnat_core(bits)
    else:
        out = _read_core_or_longer(bits, layout)
        _check_version(out, layout.name)
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
