"""The consent policy of CONTRACT §5.1: signals + region + connector requirements -> a verdict.

Rules, each producing an outcome; the most restrictive wins (deny > limited > allow):

1. No consent signal (TC string, GPP string, US Privacy string, consent mode) -> the region's
   default (``consent.default``); opt-outs still apply on top. Where that default is ``deny``
   (opt-in regions), signals that are present must also *grant* what the connector needs: a
   usable TC string consenting its ``tcf_purposes`` (and ``tcf_vendor_id``), or consent mode
   granting its ``gcm`` flags (ad_storage and ad_user_data when the list is empty). A signal
   that grants nothing (US Privacy, GPC, a GPP string without tcfeuv2, a denying consent mode)
   is not consent.
2. A usable TC string (valid, policy version >= 4, service-specific): every purpose in
   ``tcf_purposes`` consented, and ``tcf_vendor_id`` (when set) has vendor consent and no
   "not allowed" publisher restriction on those purposes. An invalid or outdated TC string is a
   refusal in ``eu``/``unknown`` and ignored elsewhere.
3. Consent mode: each flag listed in the connector's ``gcm`` that the signal mentions must be
   granted (``gcs`` covers ad_storage / analytics_storage only); absent flags do not count.
4. Any opt-out (GPC, US Privacy ``Y``, a GPP US-section sale/sharing/targeted-ads/GPC
   opt-out), in any region, applies ``us_opt_out``: drop -> deny, ldu -> limited with Meta's
   LDU geography, strip -> limited without contact details.
"""

from __future__ import annotations

from relay.consent.signals import ParsedSignals
from relay.consent.tcf import TCString
from relay.settings import ConnectorConsentSettings, ConsentDefaults
from relay.types import ConsentVerdict

_RANK = {"allow": 0, "limited": 1, "deny": 2}
_REGIONS = frozenset({"eu", "us", "other", "unknown"})
_STRICT_REGIONS = frozenset({"eu", "unknown"})
#: what consent mode must grant, in an opt-in region, for a connector whose ``gcm`` list is empty
GCM_BASELINE = ("ad_storage", "ad_user_data")
#: Meta LDU geography: (country, state); 1/1000 = USA/California, 0/0 = "Meta, geolocate this event".
LDU_CALIFORNIA = (1, 1000)
LDU_GEOLOCATE = (0, 0)


def _region(region: str) -> str:
    return region if region in _REGIONS else "unknown"


def _default(defaults: ConsentDefaults, region: str) -> str:
    return str(getattr(defaults, region))


def _tc_refusal(tc: TCString, policy: ConnectorConsentSettings) -> str | None:
    for purpose in policy.tcf_purposes:
        if purpose not in tc.purpose_consents:
            return f"tcf purpose {purpose} not consented"
    vendor = policy.tcf_vendor_id
    if vendor is None:
        return None
    if not tc.has_vendor_consent(vendor):
        return f"tcf vendor {vendor} not consented"
    for purpose in policy.tcf_purposes:
        kind = tc.restriction(purpose, vendor)
        if kind == 0:  # publisher restriction type 0: not allowed at all
            return f"tcf purpose {purpose} not allowed for vendor {vendor}"
        if kind == 2:  # the publisher allows legitimate interest only: the relay sends on consent alone
            return f"tcf purpose {purpose} restricted to legitimate interest for vendor {vendor}"
    return None


def _tcf(
    parsed: ParsedSignals, region: str, policy: ConnectorConsentSettings
) -> tuple[ConsentVerdict | None, bool]:
    """(a refusal or None, whether a TC string counted as a signal)."""
    counted = False
    for _source, tc in parsed.tc_strings:
        if tc.usable:
            counted = True
            refusal = _tc_refusal(tc, policy)
        elif region in _STRICT_REGIONS:
            counted = True
            refusal = f"invalid tc string ({tc.unusable_reason}), region {region}"
        else:
            continue  # outside the GDPR regions an unusable TC string is ignored
        if refusal is not None:
            return ConsentVerdict("deny", refusal), counted
    return None, counted


def _consent_mode(parsed: ParsedSignals, policy: ConnectorConsentSettings) -> ConsentVerdict | None:
    mode = parsed.consent_mode
    for flag in policy.gcm:
        if mode.get(flag) is False:
            state = "invalid" if flag in mode.invalid else "denied"
            return ConsentVerdict("deny", f"consent mode {flag} {state}")
    return None


def _ldu_geography(region: str, region_code: str | None) -> tuple[int, int]:
    code = region_code.strip().upper().removeprefix("US-") if isinstance(region_code, str) else ""
    return LDU_CALIFORNIA if code == "CA" and region in ("us", "unknown") else LDU_GEOLOCATE


def _opt_out(
    parsed: ParsedSignals, region: str, region_code: str | None, policy: ConnectorConsentSettings
) -> ConsentVerdict | None:
    if not parsed.opt_outs:
        return None
    reason = f"{parsed.opt_outs[0]} opt-out, region {region}"
    if policy.us_opt_out == "ldu":
        return ConsentVerdict("limited", reason, "ldu", _ldu_geography(region, region_code))
    if policy.us_opt_out == "strip":
        return ConsentVerdict("limited", reason, "strip")
    return ConsentVerdict("deny", reason)


def _tc_needs(policy: ConnectorConsentSettings) -> str:
    vendor = "" if policy.tcf_vendor_id is None else f"vendor {policy.tcf_vendor_id}"
    if not policy.tcf_purposes:
        return f"tcf {vendor}" if vendor else ""
    purposes = f"tcf purposes {','.join(map(str, policy.tcf_purposes))}"
    return f"{purposes} and {vendor}" if vendor else purposes


def _tc_grants(parsed: ParsedSignals, policy: ConnectorConsentSettings) -> bool:
    # a connector that names no purpose and no vendor asks nothing of TCF: a TC string cannot grant it
    if not (policy.tcf_purposes or policy.tcf_vendor_id is not None):
        return False
    return any(tc.usable and _tc_refusal(tc, policy) is None for _source, tc in parsed.tc_strings)


def _gcm_needs(policy: ConnectorConsentSettings) -> tuple[str, ...]:
    return policy.gcm or GCM_BASELINE


def _gcm_grants(parsed: ParsedSignals, policy: ConnectorConsentSettings) -> bool:
    return all(parsed.consent_mode.get(flag) is True for flag in _gcm_needs(policy))


def _missing_consent(
    parsed: ParsedSignals, region: str, policy: ConnectorConsentSettings, default: str, tc_counted: bool
) -> ConsentVerdict | None:
    """Rule 1: the region default when nothing was signalled; in an opt-in region, a deny unless
    some signal positively grants what this connector needs."""
    if not (tc_counted or parsed.has_non_tcf_signal):
        return ConsentVerdict(
            "deny" if default == "deny" else "allow", f"no consent signal, region {region} default {default}"
        )
    if default != "deny" or _tc_grants(parsed, policy) or _gcm_grants(parsed, policy):
        return None
    needs = [n for n in (_tc_needs(policy), f"consent mode {','.join(_gcm_needs(policy))}") if n]
    return ConsentVerdict("deny", f"no signal grants {' or '.join(needs)}, region {region} default deny")


def _allow_reason(parsed: ParsedSignals, policy: ConnectorConsentSettings, region: str) -> str:
    if _tc_grants(parsed, policy):
        return f"{_tc_needs(policy)} consented"
    if _gcm_grants(parsed, policy):
        return f"consent mode {','.join(_gcm_needs(policy))} granted"
    return f"no refusal or opt-out in signals, region {region}"


def decide(
    parsed: ParsedSignals,
    *,
    region: str,
    region_code: str | None,
    policy: ConnectorConsentSettings,
    defaults: ConsentDefaults,
) -> ConsentVerdict:
    """The verdict for one (event, connector), with a short PII-free reason."""
    region = _region(region)
    tcf_refusal, tc_counted = _tcf(parsed, region, policy)
    missing = _missing_consent(parsed, region, policy, _default(defaults, region), tc_counted)
    opt_out = _opt_out(parsed, region, region_code, policy)
    # the specific refusals come first so that, among equal outcomes, they give the reason
    candidates = (tcf_refusal, _consent_mode(parsed, policy), missing, opt_out)
    outcomes = [v for v in candidates if v is not None]
    if not outcomes:
        return ConsentVerdict("allow", _allow_reason(parsed, policy, region))
    # most restrictive wins; among equals the earlier rule gives the reason
    return max(outcomes, key=lambda v: _RANK[v.decision])


def storage_allowed(parsed: ParsedSignals, *, region: str, defaults: ConsentDefaults) -> bool:
    """May first-party cookies be set? TCF purpose 1 consented or ad_storage granted, or, when no
    signal speaks to storage, the region default allows; a denial in any present signal wins."""
    region = _region(region)
    granted = denied = False
    for _source, tc in parsed.tc_strings:
        if tc.usable:
            granted, denied = (True, denied) if 1 in tc.purpose_consents else (granted, True)
        elif region in _STRICT_REGIONS:
            denied = True
    ad_storage = parsed.consent_mode.get("ad_storage")
    if ad_storage is not None:
        granted, denied = (True, denied) if ad_storage else (granted, True)
    if denied or granted:
        return not denied
    return _default(defaults, region) == "allow"


__all__ = ["GCM_BASELINE", "LDU_CALIFORNIA", "LDU_GEOLOCATE", "decide", "storage_allowed"]
