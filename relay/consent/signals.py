"""An event's consent signals: raw (:class:`ConsentSignals`) and decoded once (:class:`ParsedSignals`).

Ingest decodes each string once per event with :func:`parse_signals`; the policy then
evaluates every connector against the same :class:`ParsedSignals`. Everything that does not
depend on the connector (which TC strings apply, which opt-outs are present, the merged
consent mode) is worked out here, so that :func:`relay.consent.policy.decide` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.consent.gcm import ConsentMode, decode_gcm, decode_gcs, merge_consent_modes
from relay.consent.gpp import SECTION_NAMES, GppString, decode_gpp, parse_gpp_sid
from relay.consent.tcf import TCString, decode_tc_string
from relay.consent.us_section import UsSection
from relay.consent.usp import UsPrivacy, decode_us_privacy

_AUDIT_MAX_CHARS = 4096
_OPT_OUT_LABELS = ("sale", "sharing", "targeted ads", "gpc")


@dataclass(frozen=True)
class ConsentSignals:
    """The raw consent signals of one event (CONTRACT §4.1 ``consent``, §4.2 ``gcs``, ``Sec-GPC``)."""

    tcf: str | None = None
    gdpr_applies: bool | None = None
    gpp: str | None = None
    gpp_sid: str | list[int] | None = None
    usp: str | None = None
    gcm: Mapping[str, str] | None = None
    gcs: str | None = None
    gpc: bool = False


@dataclass(frozen=True)
class ParsedSignals:
    """Decoded signals of one event, shared by every connector's decision."""

    signals: ConsentSignals
    #: TC strings that apply, with their source: ("tcf", ...) and/or ("gpp", ...) for a tcfeuv2 section
    tc_strings: tuple[tuple[str, TCString], ...] = ()
    gpp: GppString | None = None
    #: GPP section ids that govern this event (gpp_sid, or every section when gpp_sid is absent)
    gpp_applicable: tuple[int, ...] = ()
    usp: UsPrivacy | None = None
    consent_mode: ConsentMode = field(default_factory=lambda: ConsentMode(valid=True))
    #: opt-outs present, as short labels ("gpc", "us privacy", "gpp usnat sale"...)
    opt_outs: tuple[str, ...] = ()
    #: a valid GPP string, a valid US Privacy string or consent mode flags are present
    has_non_tcf_signal: bool = False
    #: gpp_sid as given, parsed (None when absent or unreadable)
    gpp_sid: tuple[int, ...] | None = None

    @property
    def tcf(self) -> TCString | None:
        """The TC string of the ``tcf`` field, decoded (None when the field is absent)."""
        return next((tc for source, tc in self.tc_strings if source == "tcf"), None)

    @property
    def gdpr_applies(self) -> bool:
        """A signal says GDPR applies: ``gdpr_applies`` (TCF ``gdprApplies``), or gpp_sid naming tcfeuv2."""
        return self.signals.gdpr_applies is True or (self.gpp_sid is not None and 2 in self.gpp_sid)

    @property
    def gpc(self) -> bool:
        """Global Privacy Control was sent (``Sec-GPC: 1`` or ``gpc: true``)."""
        return self.signals.gpc is True

    def audit(self) -> dict[str, Any]:
        """A PII-free, JSON-able record of the raw signals and the decoded facts, for the event trace."""
        return {
            "raw": _raw(self.signals),
            "tcf": [{"source": source, **_tc_facts(tc)} for source, tc in self.tc_strings],
            "gpp": None if self.gpp is None else _gpp_facts(self.gpp, self.gpp_applicable),
            "usp": None if self.usp is None else _usp_facts(self.usp),
            "consent_mode": self.consent_mode.to_dict(),
            "consent_mode_invalid": list(self.consent_mode.invalid),
            "opt_outs": list(self.opt_outs),
        }


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _gpp_parts(
    gpp: GppString | None, wanted: tuple[int, ...] | None
) -> tuple[tuple[int, ...], TCString | None, UsPrivacy | None]:
    if gpp is None or not gpp.valid:
        return (), None, None
    applicable = gpp.section_ids if wanted is None else tuple(i for i in gpp.section_ids if i in wanted)
    tc, usp = gpp.sections.get(2), gpp.sections.get(6)
    tc = tc if 2 in applicable and isinstance(tc, TCString) else None
    usp = usp if 6 in applicable and isinstance(usp, UsPrivacy) else None
    return applicable, tc, usp


def _gpp_is_signal(gpp: GppString | None, applicable: tuple[int, ...]) -> bool:
    # Sections decode independently: a GPP string speaks through its valid sections. When every
    # applicable section is malformed it says nothing, as a malformed string would not.
    if gpp is None or not gpp.valid:
        return False
    present = [gpp.sections[sid] for sid in applicable if sid in gpp.sections]
    return not present or any(section.valid for section in present)


def _us_opt_outs(gpp: GppString, applicable: tuple[int, ...]) -> list[str]:
    out: list[str] = []
    for sid in applicable:
        section = gpp.sections.get(sid)
        if not isinstance(section, UsSection):
            continue
        flags = (section.sale_opt_out, section.sharing_opt_out, section.targeted_ads_opt_out, section.gpc)
        out.extend(
            f"gpp {section.name} {label}" for label, flag in zip(_OPT_OUT_LABELS, flags, strict=True) if flag
        )
    return out


def parse_signals(signals: ConsentSignals) -> ParsedSignals:
    """Decode every signal of one event once. Never raises."""
    tc_strings: list[tuple[str, TCString]] = []
    if _present(signals.tcf):
        tc_strings.append(("tcf", decode_tc_string(signals.tcf)))
    gpp = decode_gpp(signals.gpp) if _present(signals.gpp) else None
    gpp_sid = parse_gpp_sid(signals.gpp_sid)
    applicable, gpp_tc, gpp_usp = _gpp_parts(gpp, gpp_sid)
    if gpp_tc is not None:
        tc_strings.append(("gpp", gpp_tc))
    usp = decode_us_privacy(signals.usp) if _present(signals.usp) else None
    modes = [m for m in (_gcm(signals.gcm), _gcs(signals.gcs)) if m is not None]
    consent_mode = merge_consent_modes(*modes)

    opt_outs: list[str] = ["gpc"] if signals.gpc is True else []
    if any(u is not None and u.opted_out_of_sale for u in (usp, gpp_usp)):
        opt_outs.append("us privacy")
    if gpp is not None and gpp.valid:
        opt_outs.extend(_us_opt_outs(gpp, applicable))
    has_other = bool(_gpp_is_signal(gpp, applicable) or (usp is not None and usp.valid) or consent_mode)
    return ParsedSignals(
        signals=signals,
        tc_strings=tuple(tc_strings),
        gpp=gpp,
        gpp_applicable=applicable,
        usp=usp,
        consent_mode=consent_mode,
        opt_outs=tuple(opt_outs),
        has_non_tcf_signal=has_other,
        gpp_sid=gpp_sid,
    )


def _gcm(value: object) -> ConsentMode | None:
    return decode_gcm(value) if value is not None else None


def _gcs(value: object) -> ConsentMode | None:
    return decode_gcs(value) if _present(value) else None


def _clip(value: object) -> object:
    if isinstance(value, str):
        return value[:_AUDIT_MAX_CHARS]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | tuple):
        return [v for v in value[:64] if isinstance(v, int)]
    if isinstance(value, Mapping):
        return {str(k)[:64]: _clip(v) for k, v in list(value.items())[:16] if isinstance(v, str)}
    return f"<{type(value).__name__}>"


def _raw(signals: ConsentSignals) -> dict[str, object]:
    names = ("tcf", "gdpr_applies", "gpp", "gpp_sid", "usp", "gcm", "gcs", "gpc")
    return {name: _clip(getattr(signals, name)) for name in names}


def _tc_facts(tc: TCString) -> dict[str, Any]:
    if not tc.valid:
        return {"valid": False, "error": tc.error}
    return {
        "valid": True,
        "usable": tc.usable,
        "unusable_reason": tc.unusable_reason,
        "cmp_id": tc.cmp_id,
        "tcf_policy_version": tc.tcf_policy_version,
        "is_service_specific": tc.is_service_specific,
        "vendor_list_version": tc.vendor_list_version,
        "purpose_consents": sorted(tc.purpose_consents),
        "special_feature_optins": sorted(tc.special_feature_optins),
        "vendor_consents_count": len(tc.vendor_consent_vector),
        "findings": list(tc.findings()),
    }


def _gpp_facts(gpp: GppString, applicable: tuple[int, ...]) -> dict[str, Any]:
    if not gpp.valid:
        return {"valid": False, "error": gpp.error}
    facts: dict[str, Any] = {
        "valid": True,
        "section_ids": list(gpp.section_ids),
        "applicable": [SECTION_NAMES.get(i, str(i)) for i in applicable],
    }
    if gpp.section_errors:  # sections decode independently: name the ones that did not
        facts["invalid_sections"] = {SECTION_NAMES.get(i, str(i)): e for i, e in gpp.section_errors.items()}
    return facts


def _usp_facts(usp: UsPrivacy) -> dict[str, Any]:
    if not usp.valid:
        return {"valid": False, "error": usp.error}
    return {"valid": True, "ccpa_applies": usp.ccpa_applies, "opted_out_of_sale": usp.opted_out_of_sale}


__all__ = ["ConsentSignals", "ParsedSignals", "parse_signals"]
