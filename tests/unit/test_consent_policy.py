"""The consent policy (CONTRACT §5.1): regions, per-connector decisions, cookies, audit."""

from __future__ import annotations

import functools
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from relay.consent import (
    LDU_CALIFORNIA,
    LDU_GEOLOCATE,
    ConsentSignals,
    ParsedSignals,
    decide,
    parse_signals,
    region_of,
    storage_allowed,
)
from relay.settings import ConnectorConsentSettings, ConsentDefaults
from relay.types import ConsentVerdict
from tests.consent_encoders import TcCore, consented_tc, gpp_string, tc_string, us_state, usnat

pytestmark = pytest.mark.unit

META = ConnectorConsentSettings(
    tcf_purposes=(1, 3, 4, 7), gcm=("ad_storage", "ad_user_data"), us_opt_out="ldu"
)
X = ConnectorConsentSettings(tcf_purposes=(1, 3, 4, 7), us_opt_out="drop")
STRIP = ConnectorConsentSettings(tcf_purposes=(1, 7), us_opt_out="strip")
GOOGLE = ConnectorConsentSettings(tcf_purposes=(1, 7), tcf_vendor_id=755, gcm=("ad_user_data",))
DEFAULTS = ConsentDefaults()
OPEN_EU = ConsentDefaults(eu="allow", unknown="allow")
CLOSED_US = ConsentDefaults(us="deny", other="deny")

ALL_PURPOSES = consented_tc()
NO_P4 = consented_tc([1, 3, 7])
POLICY_2 = consented_tc(tcf_policy_version=2)
GLOBAL_SCOPE = consented_tc(is_service_specific=False)
ALL = set(range(1, 12))
P7_RESTRICTED = tc_string(
    TcCore(purpose_consents=set(range(1, 12)), vendor_consents={755}, restrictions=[(7, 0, {700, 755})])
)
_USNAT = {
    "Version": 1,
    "SharingNotice": 1,
    "SaleOptOutNotice": 1,
    "SharingOptOutNotice": 1,
    "TargetedAdvertisingOptOutNotice": 1,
    "SensitiveDataProcessingOptOutNotice": 0,
    "SensitiveDataLimitUseNotice": 0,
    "SaleOptOut": 2,
    "SharingOptOut": 2,
    "TargetedAdvertisingOptOut": 2,
    "SensitiveDataProcessing": [0] * 12,
    "KnownChildSensitiveDataConsents": [0, 0],
    "PersonalDataConsents": 0,
    "MspaCoveredTransaction": 2,
    "MspaOptOutOptionMode": 0,
    "MspaServiceProviderMode": 0,
}
USNAT_NONE = usnat(_USNAT)
USNAT_SALE = usnat(_USNAT | {"SaleOptOut": 1})
USNAT_TARGETED = usnat(_USNAT | {"TargetedAdvertisingOptOut": 1})
USNAT_GPC = usnat(_USNAT, gpc=True)
# usca: Version, SaleOptOutNotice, SharingOptOutNotice, SensitiveDataLimitUseNotice, SaleOptOut,
# SharingOptOut, 9 sensitive categories, 2 child bands, PersonalDataConsents, 3 MSPA fields
USCA_SHARING = us_state([1, 1, 1, 0, 2, 1, *[0] * 9, 0, 0, 0, 1, 0, 0])
USCA_NONE = us_state([1, 1, 1, 0, 2, 2, *[0] * 9, 0, 0, 0, 1, 0, 0])


@dataclass(frozen=True)
class Case:
    """One row of the decision table."""

    name: str
    signals: dict[str, Any]
    region: str
    policy: ConnectorConsentSettings
    decision: str
    reason: str
    mode: str | None = None
    ldu: tuple[int, int] | None = None
    region_code: str | None = None
    defaults: ConsentDefaults = field(default=DEFAULTS)


NO_SIGNAL = "no consent signal, region"
GPP_TWO = {"gpp": gpp_string([(7, USNAT_SALE), (8, USCA_SHARING)])}
GPP_SALE_NOT_APPLICABLE = {"gpp": gpp_string([(7, USNAT_SALE), (8, USCA_NONE)]), "gpp_sid": "8"}
STORAGE_ONLY = ConnectorConsentSettings(gcm=("ad_storage",), us_opt_out="strip")
VENDOR_ONLY = ConnectorConsentSettings(tcf_purposes=(), tcf_vendor_id=755)
NOTHING_NEEDED = ConnectorConsentSettings(tcf_purposes=(), us_opt_out="strip")
GCM_TYPES = ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage")
ALL_DENIED = dict.fromkeys(GCM_TYPES, "denied")
ALL_GRANTED = dict.fromkeys(GCM_TYPES, "granted")
BASELINE_GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "denied"}

# fmt: off
CASES = [
    # 1. no signal: the region default, opt-outs on top
    Case("eu no signal", {}, "eu", META, "deny", f"{NO_SIGNAL} eu default deny"),
    Case("us no signal", {}, "us", META, "allow", f"{NO_SIGNAL} us default allow"),
    Case("other no signal", {}, "other", X, "allow", f"{NO_SIGNAL} other default allow"),
    Case("unknown no signal", {}, "unknown", X, "deny", f"{NO_SIGNAL} unknown default deny"),
    Case("unrecognised region", {}, "mars", X, "deny", f"{NO_SIGNAL} unknown default deny"),
    Case("eu overridden", {}, "eu", X, "allow", f"{NO_SIGNAL} eu default allow", defaults=OPEN_EU),
    Case("us overridden", {}, "us", X, "deny", f"{NO_SIGNAL} us default deny", defaults=CLOSED_US),
    Case("unknown overridden", {}, "unknown", X, "allow", "unknown default allow", defaults=OPEN_EU),
    Case("empty strings", {"tcf": "", "gpp": " ", "usp": ""}, "eu", X, "deny", f"{NO_SIGNAL} eu"),
    Case("empty gcm", {"gcm": {}}, "eu", X, "deny", f"{NO_SIGNAL} eu default deny"),
    Case("eu default beats opt-out", {"gpc": True}, "eu", META, "deny", f"{NO_SIGNAL} eu"),
    Case("opt-out on default allow", {"gpc": True}, "other", X, "deny", "gpc opt-out, region other"),
    # 2. TC strings
    Case("tcf all purposes", {"tcf": ALL_PURPOSES}, "eu", X, "allow", "tcf purposes 1,3,4,7 consented"),
    Case("tcf missing purpose", {"tcf": NO_P4}, "eu", X, "deny", "tcf purpose 4 not consented"),
    Case("tcf missing purpose in us", {"tcf": NO_P4}, "us", X, "deny", "tcf purpose 4 not consented"),
    Case("tcf policy 2 in eu", {"tcf": POLICY_2}, "eu", X, "deny",
         "invalid tc string (policy version 2), region eu"),
    Case("tcf global scope", {"tcf": GLOBAL_SCOPE}, "unknown", X, "deny",
         "invalid tc string (not service-specific), region unknown"),
    Case("tcf garbage in eu", {"tcf": "garbage"}, "eu", X, "deny", "invalid tc string (unsupported version"),
    Case("tcf policy 2 ignored in us", {"tcf": POLICY_2}, "us", X, "allow", f"{NO_SIGNAL} us default"),
    Case("tcf garbage ignored in other", {"tcf": "@@"}, "other", X, "allow", f"{NO_SIGNAL} other"),
    Case("tcf ignored, us deny", {"tcf": "@@"}, "us", X, "deny", "us default deny", defaults=CLOSED_US),
    Case("tcf beats eu default", {"tcf": ALL_PURPOSES}, "eu", META, "allow", "tcf purposes 1,3,4,7"),
    Case("vendor consented", {"tcf": ALL_PURPOSES}, "eu", GOOGLE, "allow",
         "tcf purposes 1,7 and vendor 755 consented"),
    Case("vendor missing", {"tcf": consented_tc(vendors=[804])}, "eu", GOOGLE, "deny",
         "tcf vendor 755 not consented"),
    Case("publisher restriction", {"tcf": P7_RESTRICTED}, "eu", GOOGLE, "deny",
         "tcf purpose 7 not allowed for vendor 755"),
    Case("restriction needs a vendor", {"tcf": P7_RESTRICTED}, "eu", X, "allow", "tcf purposes"),
    Case("gpp tcfeuv2", {"gpp": gpp_string([(2, NO_P4)])}, "eu", X, "deny", "tcf purpose 4 not consented"),
    Case("gpp tcfeuv2 not applicable", {"gpp": gpp_string([(2, NO_P4), (7, USNAT_NONE)]), "gpp_sid": "7"},
         "eu", X, "allow", "no refusal or opt-out in signals, region eu", defaults=OPEN_EU),
    Case("gpp tcfeuv2 not applicable grants nothing",
         {"gpp": gpp_string([(2, ALL_PURPOSES), (7, USNAT_NONE)]), "gpp_sid": "7"}, "eu", X, "deny",
         "no signal grants tcf purposes 1,3,4,7 or consent mode ad_storage,ad_user_data, region eu"),
    Case("gpp tcfeuv2 grants", {"gpp": gpp_string([(2, ALL_PURPOSES), (7, USNAT_NONE)])}, "eu", X, "allow",
         "tcf purposes 1,3,4,7 consented"),
    Case("tcf and gpp tcfeuv2", {"tcf": ALL_PURPOSES, "gpp": gpp_string([(2, NO_P4)])}, "eu", X, "deny",
         "tcf purpose 4 not consented"),
    # 3. consent mode
    Case("gcm granted", {"gcm": {"ad_storage": "granted", "ad_user_data": "granted"}}, "eu", META, "allow",
         "consent mode ad_storage,ad_user_data granted"),
    Case("gcm denied", {"gcm": {"ad_storage": "granted", "ad_user_data": "denied"}}, "us", META, "deny",
         "consent mode ad_user_data denied"),
    Case("gcm invalid", {"gcm": {"ad_storage": "yes"}}, "us", META, "deny",
         "consent mode ad_storage invalid"),
    Case("gcm absent flags", {"gcm": {"analytics_storage": "denied"}}, "us", META, "allow", "no refusal"),
    Case("gcm absent flags grant nothing", {"gcm": {"analytics_storage": "granted"}}, "eu", META, "deny",
         "no signal grants"),
    Case("gcm flag not listed", {"gcm": {"ad_personalization": "denied"}}, "us", META, "allow", "no refusal"),
    Case("gcs denied", {"gcs": "G100"}, "us", META, "deny", "consent mode ad_storage denied"),
    Case("gcs granted", {"gcs": "G111"}, "us", META, "allow", "no refusal or opt-out in signals, region us"),
    Case("gcs cannot grant ad_user_data in the eu", {"gcs": "G111"}, "eu", META, "deny",
         "no signal grants tcf purposes 1,3,4,7 or consent mode ad_storage,ad_user_data, region eu"),
    Case("gcs grants a storage-only connector", {"gcs": "G111"}, "eu", STORAGE_ONLY, "allow",
         "consent mode ad_storage granted"),
    Case("gcs cannot grant ad_user_data", {"gcs": "G111", "gcm": {"ad_user_data": "denied"}}, "eu", META,
         "deny", "consent mode ad_user_data denied"),
    Case("gcs denial beats gcm grant", {"gcs": "G100", "gcm": {"ad_storage": "granted"}}, "us", META,
         "deny", "consent mode ad_storage denied"),
    Case("malformed gcs", {"gcs": "G9"}, "eu", META, "deny", f"{NO_SIGNAL} eu default deny"),
    Case("gcm and tcf refusal", {"tcf": NO_P4, "gcm": {"ad_storage": "granted"}}, "eu", META, "deny",
         "tcf purpose 4"),
    # 4. opt-outs
    Case("gpc ldu", {"gpc": True}, "us", META, "limited", "gpc opt-out, region us", "ldu", LDU_GEOLOCATE),
    Case("gpc ldu CA", {"gpc": True}, "us", META, "limited", "gpc opt-out", "ldu", LDU_CALIFORNIA, "CA"),
    Case("gpc ldu US-CA", {"gpc": True}, "us", META, "limited", "gpc", "ldu", LDU_CALIFORNIA, " us-ca "),
    Case("gpc ldu TX", {"gpc": True}, "us", META, "limited", "gpc opt-out", "ldu", LDU_GEOLOCATE, "TX"),
    Case("CA outside the us", {"tcf": ALL_PURPOSES, "gpc": True}, "eu", META, "limited",
         "gpc opt-out, region eu", "ldu", LDU_GEOLOCATE, "CA"),
    Case("gpc drop", {"gpc": True}, "us", X, "deny", "gpc opt-out, region us"),
    Case("gpc strip", {"gpc": True}, "us", STRIP, "limited", "gpc opt-out, region us", "strip"),
    Case("usp opted out", {"usp": "1NYN"}, "us", X, "deny", "us privacy opt-out, region us"),
    Case("usp ldu", {"usp": "1YYN"}, "us", META, "limited", "us privacy", "ldu", LDU_CALIFORNIA, "CA"),
    Case("usp not opted out", {"usp": "1YNN"}, "us", X, "allow",
         "no refusal or opt-out in signals, region us"),
    Case("usp not applicable", {"usp": "1---"}, "us", X, "allow", "no refusal or opt-out"),
    Case("usp malformed", {"usp": "1X--"}, "unknown", X, "deny", f"{NO_SIGNAL} unknown"),
    Case("usnat sale", {"gpp": gpp_string([(7, USNAT_SALE)])}, "us", X, "deny",
         "gpp usnat sale opt-out, region us"),
    Case("usnat targeted", {"gpp": gpp_string([(7, USNAT_TARGETED)])}, "us", STRIP, "limited",
         "gpp usnat targeted ads opt-out", "strip"),
    Case("usnat gpc", {"gpp": gpp_string([(7, USNAT_GPC)])}, "us", X, "deny", "gpp usnat gpc opt-out"),
    Case("usca sharing", {"gpp": gpp_string([(8, USCA_SHARING)]), "gpp_sid": [8]}, "us", X, "deny",
         "gpp usca sharing opt-out"),
    Case("gpp no opt-out", {"gpp": gpp_string([(7, USNAT_NONE)])}, "us", X, "allow", "no refusal"),
    Case("gpp_sid selects", {**GPP_TWO, "gpp_sid": "7"}, "us", X, "deny", "gpp usnat sale"),
    Case("no gpp_sid: every section", GPP_TWO, "us", X, "deny", "gpp usnat sale"),
    Case("gpp_sid excludes", GPP_SALE_NOT_APPLICABLE, "us", X, "allow", "no refusal"),
    Case("gpp uspv1", {"gpp": gpp_string([(6, "1YYN")])}, "us", X, "deny", "us privacy opt-out"),
    Case("gpp header only", {"gpp": "DBAA"}, "us", X, "allow", "no refusal or opt-out"),
    Case("gpp malformed", {"gpp": "DBACOeA~~1YNN"}, "us", X, "allow", f"{NO_SIGNAL} us"),
    Case("gpp malformed in eu", {"gpp": "DBABLA~Z"}, "eu", X, "deny", "region eu default deny"),
    # 5. opt-in regions (default deny): only a signal that grants what the connector needs allows it
    Case("issue 12: gcm all denied, X", {"gdpr_applies": True, "gcm": ALL_DENIED}, "eu", X, "deny",
         "no signal grants tcf purposes 1,3,4,7 or consent mode ad_storage,ad_user_data, region eu default"),
    Case("issue 12: gcm all denied, Meta", {"gdpr_applies": True, "gcm": ALL_DENIED}, "eu", META, "deny",
         "consent mode ad_storage denied"),
    Case("usp is not consent", {"usp": "1YNN"}, "eu", X, "deny", "no signal grants"),
    Case("usp is not consent, unknown", {"usp": "1---"}, "unknown", STRIP, "deny",
         "no signal grants tcf purposes 1,7 or consent mode ad_storage,ad_user_data, region unknown"),
    Case("gpp usnat is not consent", {"gpp": gpp_string([(7, USNAT_NONE)])}, "eu", META, "deny",
         "no signal grants"),
    Case("gpp header only is not consent", {"gpp": "DBAA"}, "eu", X, "deny", "no signal grants"),
    Case("gpc is not consent", {"gpc": True, "usp": "1YNN"}, "eu", X, "deny", "no signal grants"),
    Case("opt-out on top of no grant", {"usp": "1YYN"}, "eu", META, "deny", "no signal grants"),
    Case("gcm baseline grants X", {"gcm": BASELINE_GRANTED}, "eu", X, "allow",
         "consent mode ad_storage,ad_user_data granted"),
    Case("gcm baseline half granted", {"gcm": {"ad_storage": "granted"}}, "eu", X, "deny", "no signal"),
    Case("gcm listed flag granted", {"gcm": {"ad_user_data": "granted"}}, "eu", GOOGLE, "allow",
         "consent mode ad_user_data granted"),
    Case("gcm grant, limited by gpc", {"gcm": BASELINE_GRANTED, "gpc": True}, "eu", META, "limited",
         "gpc opt-out, region eu", "ldu", LDU_GEOLOCATE),
    Case("tcf grant beats absent gcm", {"tcf": ALL_PURPOSES, "usp": "1YNN"}, "unknown", X, "allow",
         "tcf purposes 1,3,4,7 consented"),
    Case("vendor refusal beside a partial gcs", {"tcf": consented_tc(vendors=[804]), "gcs": "G111"},
         "eu", GOOGLE, "deny", "tcf vendor 755 not consented"),
    Case("vendor-only policy", {"tcf": consented_tc([], vendors=[755])}, "eu", VENDOR_ONLY, "allow",
         "tcf vendor 755 consented"),
    Case("vendor-only policy, vendor missing", {"tcf": consented_tc(vendors=[804]), "usp": "1YNN"}, "eu",
         VENDOR_ONLY, "deny", "tcf vendor 755 not consented"),
    Case("no requirements: a tc string grants nothing", {"tcf": ALL_PURPOSES}, "eu", NOTHING_NEEDED, "deny",
         "no signal grants consent mode ad_storage,ad_user_data, region eu"),
    Case("no requirements: consent mode grants", {"tcf": ALL_PURPOSES, "gcm": BASELINE_GRANTED}, "eu",
         NOTHING_NEEDED, "allow", "consent mode ad_storage,ad_user_data granted"),
    Case("us default deny needs a grant too", {"usp": "1YNN"}, "us", X, "deny",
         "no signal grants tcf purposes 1,3,4,7 or consent mode ad_storage,ad_user_data, region us",
         defaults=CLOSED_US),
    Case("us default allow: usp is enough", {"usp": "1YNN", "gcm": ALL_DENIED}, "us", X, "allow",
         "no refusal or opt-out in signals, region us"),
    Case("eu default allow: gcm denial only for listed flags", {"gcm": ALL_DENIED}, "eu", X, "allow",
         "no refusal", defaults=OPEN_EU),
    # 6. most restrictive wins
    Case("refusal beats ldu", {"tcf": NO_P4, "gpc": True}, "eu", META, "deny", "tcf purpose 4 not consented"),
    Case("ldu beats allow", {"tcf": ALL_PURPOSES, "usp": "1NYN"}, "eu", META, "limited",
         "us privacy opt-out, region eu", "ldu", LDU_GEOLOCATE),
    Case("first opt-out named", {"gpc": True, "usp": "1NYN"}, "us", X, "deny", "gpc opt-out, region us"),
    Case("gcm refusal beats strip", {"gcs": "G100", "gpc": True}, "us", STORAGE_ONLY, "deny",
         "consent mode ad_storage denied"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    parsed = parse_signals(ConsentSignals(**case.signals))
    verdict = decide(
        parsed, region=case.region, region_code=case.region_code, policy=case.policy, defaults=case.defaults
    )
    assert isinstance(verdict, ConsentVerdict)
    assert verdict.decision == case.decision, verdict.reason
    assert case.reason in verdict.reason
    assert (verdict.mode, verdict.ldu) == (case.mode, case.ldu)


def test_case_names_are_unique() -> None:
    assert len({c.name for c in CASES}) == len(CASES)


# The whole grid: region default x TC string x consent mode x the other signals x connector policy.
# The expected decision comes from `_expected`, a plain restatement of CONTRACT §5.1 on the labels
# below, so that every combination is checked, not only the rows of the table above.
TC_DIM: dict[str, dict[str, Any]] = {
    "no tc": {},
    "tc all": {"tcf": ALL_PURPOSES},
    "tc no p4": {"tcf": NO_P4},
    "tc no vendor": {"tcf": consented_tc(vendors=[804])},
    "tc policy 2": {"tcf": POLICY_2},
    "tc garbage": {"tcf": "garbage"},
    "gpp tcfeuv2 all": {"sections": [(2, ALL_PURPOSES)]},
}
GCM_DIM: dict[str, dict[str, Any]] = {
    "no gcm": {},
    "gcm granted": {"gcm": ALL_GRANTED},
    "gcm denied": {"gcm": ALL_DENIED},
    "gcs G111": {"gcs": "G111"},
    "gcm ad_user_data": {"gcm": {"ad_user_data": "granted"}},
}
OTHER_DIM: dict[str, dict[str, Any]] = {
    "nothing": {},
    "gdpr_applies": {"gdpr_applies": True},
    "usp 1YNN": {"usp": "1YNN"},
    "usp 1YYN": {"usp": "1YYN"},
    "gpc": {"gpc": True},
    "gpp usnat none": {"sections": [(7, USNAT_NONE)]},
    "gpp usnat sale": {"sections": [(7, USNAT_SALE)]},
}
POLICIES = {
    "meta": META,
    "x": X,
    "strip": STRIP,
    "google": GOOGLE,
    "vendor only": VENDOR_ONLY,
    "plugin, no requirements": NOTHING_NEEDED,
}
REGIONS = [
    ("eu", DEFAULTS),
    ("unknown", DEFAULTS),
    ("us", CLOSED_US),
    ("other", CLOSED_US),
    ("us", DEFAULTS),
    ("other", DEFAULTS),
    ("eu", OPEN_EU),
    ("unknown", OPEN_EU),
]
TC_CONSENTS = {"tc all": (ALL, {755}), "tc no p4": (ALL - {4}, {755}), "tc no vendor": (ALL, {804})}
TC_CONSENTS["gpp tcfeuv2 all"] = TC_CONSENTS["tc all"]
GCM_FLAGS = {
    "gcm granted": dict.fromkeys(GCM_TYPES, True),
    "gcm denied": dict.fromkeys(GCM_TYPES, False),
    "gcs G111": {"ad_storage": True, "analytics_storage": True},
    "gcm ad_user_data": {"ad_user_data": True},
}


def _signals(*labels: str) -> ConsentSignals:
    merged: dict[str, Any] = {}
    sections: list[tuple[int, str]] = []
    for dim, label in zip((TC_DIM, GCM_DIM, OTHER_DIM), labels, strict=True):
        values = dict(dim[label])
        sections += values.pop("sections", [])
        merged.update(values)
    if sections:
        merged["gpp"] = gpp_string(sections)
    return ConsentSignals(**merged)


def _expected(
    tc: str, gcm: str, other: str, region: str, defaults: ConsentDefaults, policy: ConnectorConsentSettings
) -> tuple[str, str | None]:
    """(decision, mode), from the rules as the README states them."""
    strict = region in ("eu", "unknown")
    default = getattr(defaults, region)
    purposes, vendors = TC_CONSENTS.get(tc, (set(), set()))
    usable, invalid = tc in TC_CONSENTS, tc in ("tc policy 2", "tc garbage")
    flags = GCM_FLAGS.get(gcm, {})
    any_signal = usable or (invalid and strict) or gcm != "no gcm" or other.startswith(("usp", "gpp"))
    tc_refuses = usable and (
        not set(policy.tcf_purposes) <= purposes
        or (policy.tcf_vendor_id is not None and policy.tcf_vendor_id not in vendors)
    )
    refused = tc_refuses or (invalid and strict) or any(flags.get(f) is False for f in policy.gcm)
    wants_tc = bool(policy.tcf_purposes) or policy.tcf_vendor_id is not None
    granted = (usable and wants_tc and not tc_refuses) or all(
        flags.get(f) is True for f in policy.gcm or ("ad_storage", "ad_user_data")
    )
    if not any_signal:
        decision = default
    elif refused or (default == "deny" and not granted):
        decision = "deny"
    else:
        decision = "allow"
    if decision == "deny" or other not in ("usp 1YYN", "gpc", "gpp usnat sale"):
        return decision, None
    if policy.us_opt_out == "drop":
        return "deny", None
    return "limited", policy.us_opt_out


@functools.cache
def _parsed(tc: str, gcm: str, other: str) -> ParsedSignals:
    return parse_signals(_signals(tc, gcm, other))


@pytest.mark.parametrize("region_defaults", REGIONS, ids=[f"{r} {d.model_dump()[r]}" for r, d in REGIONS])
@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_decision_grid(region_defaults: tuple[str, ConsentDefaults], policy_name: str) -> None:
    region, defaults = region_defaults
    policy = POLICIES[policy_name]
    wrong: list[str] = []
    counts = {"allow": 0, "limited": 0, "deny": 0}
    for tc, gcm, other in itertools.product(TC_DIM, GCM_DIM, OTHER_DIM):
        verdict = decide(
            _parsed(tc, gcm, other), region=region, region_code=None, policy=policy, defaults=defaults
        )
        counts[verdict.decision] += 1
        expected = _expected(tc, gcm, other, region, defaults, policy)
        if (verdict.decision, verdict.mode) != expected:
            wrong.append(
                f"{tc} / {gcm} / {other}: got {verdict.decision} ({verdict.reason}), want {expected}"
            )
    assert not wrong, "\n".join(wrong)
    # the grid lets some events through everywhere, and refuses some wherever the default is deny
    assert counts["allow"] and (counts["deny"] or getattr(defaults, region) == "allow")


def test_opt_in_regions_never_allow_without_a_grant() -> None:
    # the invariant of issue 12, stated on the verdicts themselves: in a default-deny region every
    # verdict that lets an event through was earned by a consent or a grant
    for tc, gcm, other in itertools.product(TC_DIM, GCM_DIM, OTHER_DIM):
        for policy in POLICIES.values():
            verdict = decide(
                _parsed(tc, gcm, other), region="eu", region_code=None, policy=policy, defaults=DEFAULTS
            )
            if verdict.decision == "allow":
                assert verdict.reason.endswith(("consented", "granted")), (tc, gcm, other, verdict)
            elif verdict.decision == "deny" and "grant" in verdict.reason:
                assert verdict.reason.startswith("no signal grants"), verdict


def test_one_parse_serves_every_connector() -> None:
    parsed = parse_signals(ConsentSignals(tcf=ALL_PURPOSES, gpc=True))
    verdicts = [
        decide(parsed, region="us", region_code="CA", policy=p, defaults=DEFAULTS) for p in (META, X, STRIP)
    ]
    assert [(v.decision, v.mode, v.ldu) for v in verdicts] == [
        ("limited", "ldu", LDU_CALIFORNIA),
        ("deny", None, None),
        ("limited", "strip", None),
    ]


@pytest.mark.parametrize(
    ("country", "signals", "region"),
    [
        ("DE", {}, "eu"),
        (" fr ", {}, "eu"),
        ("GB", {}, "eu"),
        ("UK", {}, "eu"),
        ("CH", {}, "eu"),
        ("NO", {}, "eu"),
        ("IS", {}, "eu"),
        ("LI", {}, "eu"),
        ("RE", {}, "eu"),
        ("US", {}, "us"),
        ("us", {"gdpr_applies": True}, "us"),
        ("CA", {}, "other"),
        ("JP", {}, "other"),
        ("BR", {"gdpr_applies": True}, "other"),
        (None, {}, "unknown"),
        ("", {}, "unknown"),
        ("XX", {}, "unknown"),
        ("T1", {}, "unknown"),
        ("1A", {}, "unknown"),
        ("DEU", {}, "unknown"),
        (None, {"gdpr_applies": True}, "eu"),
        ("XX", {"gdpr_applies": True}, "eu"),
        (None, {"gdpr_applies": False}, "unknown"),
        (None, {"tcf": ALL_PURPOSES}, "unknown"),
        (None, {"gpp": "DBAA", "gpp_sid": "2"}, "eu"),
        (None, {"gpp": "DBAA", "gpp_sid": [7]}, "unknown"),
    ],
)
def test_region_of(country: str | None, signals: dict[str, Any], region: str) -> None:
    assert region_of(country, parse_signals(ConsentSignals(**signals))) == region


@pytest.mark.parametrize(
    ("signals", "region", "defaults", "allowed"),
    [
        ({}, "eu", DEFAULTS, False),
        ({}, "us", DEFAULTS, True),
        ({}, "unknown", DEFAULTS, False),
        ({}, "eu", OPEN_EU, True),
        ({}, "us", CLOSED_US, False),
        ({"tcf": consented_tc([1])}, "eu", DEFAULTS, True),
        ({"tcf": consented_tc([7])}, "eu", DEFAULTS, False),
        ({"tcf": consented_tc([7])}, "us", DEFAULTS, False),
        ({"tcf": POLICY_2}, "eu", OPEN_EU, False),
        ({"tcf": POLICY_2}, "us", DEFAULTS, True),
        ({"gcm": {"ad_storage": "granted"}}, "eu", DEFAULTS, True),
        ({"gcm": {"ad_storage": "denied"}}, "us", DEFAULTS, False),
        ({"gcm": {"analytics_storage": "granted"}}, "eu", DEFAULTS, False),
        ({"gcs": "G100"}, "us", DEFAULTS, False),
        ({"gcs": "G110"}, "unknown", DEFAULTS, True),
        ({"tcf": consented_tc([1]), "gcm": {"ad_storage": "denied"}}, "eu", DEFAULTS, False),
        ({"tcf": consented_tc([7]), "gcs": "G111"}, "eu", DEFAULTS, False),
        ({"usp": "1YNN"}, "us", DEFAULTS, True),
        ({"usp": "1YNN"}, "eu", DEFAULTS, False),
        ({"gpc": True}, "us", DEFAULTS, True),
    ],
)
def test_storage_allowed(
    signals: dict[str, Any], region: str, defaults: ConsentDefaults, allowed: bool
) -> None:
    assert (
        storage_allowed(parse_signals(ConsentSignals(**signals)), region=region, defaults=defaults) is allowed
    )


def test_audit_is_json_and_carries_the_facts() -> None:
    gpp = gpp_string([(7, USNAT_SALE), (8, USCA_SHARING)])
    parsed = parse_signals(
        ConsentSignals(
            tcf=POLICY_2,
            gdpr_applies=True,
            gpp=gpp,
            gpp_sid="7",
            usp="1YNN",
            gcs="G110",
            gcm={"ad_user_data": "denied"},
            gpc=True,
        )
    )
    audit = json.loads(json.dumps(parsed.audit()))
    assert audit["raw"]["tcf"] == POLICY_2 and audit["raw"]["gpp_sid"] == "7" and audit["raw"]["gpc"] is True
    assert audit["tcf"][0]["source"] == "tcf" and audit["tcf"][0]["unusable_reason"] == "policy version 2"
    assert audit["gpp"] == {"valid": True, "section_ids": [7, 8], "applicable": ["usnat"]}
    assert audit["usp"] == {"valid": True, "ccpa_applies": True, "opted_out_of_sale": False}
    assert audit["consent_mode"] == {
        "ad_user_data": "denied",
        "ad_storage": "granted",
        "analytics_storage": "denied",
    }
    assert audit["opt_outs"] == ["gpc", "gpp usnat sale"]


def test_audit_survives_wrong_types() -> None:
    weird: Any = ConsentSignals(
        tcf=123,
        gdpr_applies="yes",
        gpp=["DBAA"],
        gpp_sid={"a": 1},
        usp=b"1YNN",
        gcm={"ad_storage": object(), 3: "granted"},
        gcs=7,
        gpc="1",
    )
    parsed = parse_signals(weird)
    audit = json.loads(json.dumps(parsed.audit()))
    assert audit["tcf"][0] == {"source": "tcf", "valid": False, "error": "not a string"}
    assert audit["gpp"] == {"valid": False, "error": "not a string"}
    assert audit["usp"] == {"valid": False, "error": "not a string"}
    assert audit["consent_mode_invalid"] == ["ad_storage"]
    assert not parsed.gpc and not parsed.gdpr_applies and parsed.opt_outs == ()
    verdict = decide(parsed, region="eu", region_code=None, policy=META, defaults=DEFAULTS)
    assert verdict.decision == "deny"


def test_audit_clips_long_values() -> None:
    parsed = parse_signals(ConsentSignals(tcf="C" * 20_000))
    audit = parsed.audit()
    assert len(audit["raw"]["tcf"]) == 4096
    assert audit["tcf"][0]["valid"] is False


def _typical() -> ParsedSignals:
    return parse_signals(
        ConsentSignals(
            tcf=ALL_PURPOSES,
            gdpr_applies=True,
            gcm={"ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "denied"},
        )
    )


def test_typical_event_is_cheap() -> None:
    # generous bound (the target is well under 100 µs): this guards against pathological slowness only
    runs = 300
    start = time.perf_counter()
    for _ in range(runs):
        parsed = _typical()
        for policy in (META, X):
            decide(parsed, region="eu", region_code=None, policy=policy, defaults=DEFAULTS)
    assert (time.perf_counter() - start) / runs < 0.002


def test_hostile_range_stays_cheap() -> None:
    # one range entry covering 64536 vendors: nothing may expand it on the hot path
    core = TcCore(purpose_consents=set(range(1, 12)), vendor_consents=set(range(1000, 65536)))
    core.vendor_consent_encoding = "range"
    hostile = tc_string(core)
    assert len(hostile) < 100
    start = time.perf_counter()
    parsed = parse_signals(ConsentSignals(tcf=hostile))
    verdict = decide(parsed, region="eu", region_code=None, policy=GOOGLE, defaults=DEFAULTS)
    parsed.audit()
    assert verdict.decision == "deny" and verdict.reason == "tcf vendor 755 not consented"
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize(
    ("block", "vendor"),
    [
        (
            {"type": "google_ads", "customer_id": "1234567890", "developer_token": "t", "access_token": "a"},
            755,
        ),
        ({"type": "linkedin", "access_token": "a"}, 804),
    ],
)
def test_a_gvl_vendors_connector_needs_its_vendor_consent_by_default(
    block: dict[str, Any], vendor: int
) -> None:
    """consent.md §1.5: purpose consent alone never authorises a GVL vendor. Google (755) and LinkedIn (804)
    need their vendor's consent in a TC string, also when the block's consent is written without it."""
    from connectors.google.settings import GoogleAdsSettings
    from connectors.linkedin.settings import LinkedInSettings

    model = GoogleAdsSettings if block["type"] == "google_ads" else LinkedInSettings
    for consent in (None, {"tcf_purposes": [1, 7]}):
        settings = model.model_validate({**block, **({"consent": consent} if consent else {})})
        policy = settings.consent
        assert policy.tcf_vendor_id == vendor
        purposes_only = parse_signals(ConsentSignals(tcf=consented_tc(vendors=(1, 2))))
        refused = decide(purposes_only, region="eu", region_code="DE", policy=policy, defaults=DEFAULTS)
        assert refused.decision == "deny" and str(vendor) in refused.reason, refused.reason
        with_vendor = parse_signals(ConsentSignals(tcf=consented_tc(vendors=(vendor,)), gcm=ALL_GRANTED))
        allowed = decide(with_vendor, region="eu", region_code="DE", policy=policy, defaults=DEFAULTS)
        assert allowed.decision == "allow", allowed.reason
    unset = model.model_validate({**block, "consent": {"tcf_vendor_id": None}})
    assert unset.consent.tcf_vendor_id is None  # an operator may still say so explicitly


@pytest.mark.parametrize(
    ("restrictions", "decision", "reason"),
    [
        ([(3, 2, {755})], "deny", "tcf purpose 3 restricted to legitimate interest for vendor 755"),
        ([(7, 2, {755})], "deny", "tcf purpose 7 restricted to legitimate interest for vendor 755"),
        ([(7, 1, {755})], "allow", "consented"),  # require consent: the relay's basis anyway
        ([(7, 1, {755}), (7, 0, {755})], "deny", "tcf purpose 7 not allowed for vendor 755"),  # 0 always wins
        ([(7, 0, {755}), (7, 1, {755})], "deny", "tcf purpose 7 not allowed for vendor 755"),
        ([(7, 2, {754})], "allow", "consented"),  # another vendor's restriction
    ],
)
def test_publisher_restrictions_on_the_connectors_vendor(
    restrictions: list[tuple[int, int, set[int]]], decision: str, reason: str
) -> None:
    """consent.md §1.2: type 0 always wins; type 2 (require legitimate interest) for a vendor the relay
    sends on consent means it must not send; type 1 (require consent) changes nothing."""
    core = TcCore(purpose_consents=set(range(1, 12)), vendor_consents={754, 755}, restrictions=restrictions)
    from tests.consent_encoders import disclosed_segment

    parsed = parse_signals(ConsentSignals(tcf=tc_string(core, disclosed_segment({754, 755}))))
    verdict = decide(parsed, region="eu", region_code="DE", policy=GOOGLE_TCF, defaults=DEFAULTS)
    assert verdict.decision == decision and reason in verdict.reason, verdict.reason


GOOGLE_TCF = ConnectorConsentSettings(tcf_purposes=(1, 3, 4, 7), tcf_vendor_id=755)
