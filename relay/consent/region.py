"""The visitor's consent region (CONTRACT §5.1), from the country header and the signals.

``eu`` = the EEA (EU-27, Iceland, Liechtenstein, Norway) plus the United Kingdom and
Switzerland; ``us``; ``other`` = any other country; ``unknown`` = no country, ``XX``
(unknown to the edge) or ``T1`` (Tor). Without a country, a signal saying GDPR applies
makes it ``eu``.
"""

from __future__ import annotations

from typing import Literal

from relay.consent.signals import ParsedSignals

Region = Literal["eu", "us", "other", "unknown"]

_EU27 = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# GDPR also applies in the EU's outermost regions and Åland, which have their own ISO codes;
# EL is the EU's own code for Greece.
_EU_TERRITORIES = frozenset("GF GP MQ RE YT MF AX EL".split())
EU_REGION = _EU27 | _EU_TERRITORIES | frozenset("IS LI NO GB UK CH".split())
_UNKNOWN = frozenset({"XX", "T1", ""})


def region_of(country: str | None, parsed: ParsedSignals) -> Region:
    """Which region's consent rules apply to this event."""
    code = country.strip().upper() if isinstance(country, str) else ""
    if code in _UNKNOWN or len(code) != 2 or not (code.isascii() and code.isalpha()):
        return "eu" if parsed.gdpr_applies else "unknown"
    if code in EU_REGION:
        return "eu"
    if code == "US":
        return "us"
    return "other"


__all__ = ["EU_REGION", "Region", "region_of"]
