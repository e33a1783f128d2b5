"""The consent engine: decode consent signals once per event, then decide per connector.

Data flow: :class:`ConsentSignals` (raw, from the event) -> :func:`parse_signals` ->
:class:`ParsedSignals` -> :func:`region_of` -> :func:`decide` (one
:class:`relay.types.ConsentVerdict` per connector) and :func:`storage_allowed` (cookies).
In a region whose default is ``deny`` (opt-in), :func:`decide` allows a connector only when a
signal positively grants what it needs (:data:`GCM_BASELINE` for consent mode when its ``gcm``
list is empty).

Decoders (:func:`decode_tc_string`, :func:`decode_gpp`, :func:`decode_us_privacy`,
:func:`decode_gcm`, :func:`decode_gcs` ...) never raise: malformed input of any kind gives
a result with ``valid=False`` and a short ``error``.
"""

from __future__ import annotations

from relay.consent.gcm import CONSENT_TYPES, ConsentMode, decode_gcm, decode_gcs, merge_consent_modes
from relay.consent.gpp import (
    SECTION_IDS,
    SECTION_NAMES,
    GppSection,
    GppString,
    RawSection,
    decode_gpp,
    decode_gpp_header,
    decode_gpp_section,
    parse_gpp_sid,
)
from relay.consent.policy import GCM_BASELINE, LDU_CALIFORNIA, LDU_GEOLOCATE, decide, storage_allowed
from relay.consent.region import EU_REGION, Region, region_of
from relay.consent.signals import ConsentSignals, ParsedSignals, parse_signals
from relay.consent.tcf import MIN_POLICY_VERSION, PublisherTC, TCString, decode_tc_string
from relay.consent.tcfca import TcfCaString, decode_tcf_ca
from relay.consent.us_section import US_SECTION_IDS, UsSection, decode_us_section
from relay.consent.usp import UsPrivacy, decode_us_privacy
from relay.consent.vendors import PublisherRestriction, VendorVector

__all__ = [
    "CONSENT_TYPES",
    "EU_REGION",
    "GCM_BASELINE",
    "LDU_CALIFORNIA",
    "LDU_GEOLOCATE",
    "MIN_POLICY_VERSION",
    "SECTION_IDS",
    "SECTION_NAMES",
    "US_SECTION_IDS",
    "ConsentMode",
    "ConsentSignals",
    "GppSection",
    "GppString",
    "ParsedSignals",
    "PublisherRestriction",
    "PublisherTC",
    "RawSection",
    "Region",
    "TCString",
    "TcfCaString",
    "UsPrivacy",
    "UsSection",
    "VendorVector",
    "decide",
    "decode_gcm",
    "decode_gcs",
    "decode_gpp",
    "decode_gpp_header",
    "decode_gpp_section",
    "decode_tc_string",
    "decode_tcf_ca",
    "decode_us_privacy",
    "decode_us_section",
    "merge_consent_modes",
    "parse_gpp_sid",
    "parse_signals",
    "region_of",
    "storage_allowed",
]
