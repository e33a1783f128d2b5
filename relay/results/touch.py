"""Where a visit came from: UTM parameters, ad-platform click ids and referrers of a landing URL.

A *touch* is an event whose URL says how the visitor arrived. ``utm_source`` wins (it is what the
advertiser wrote); else a click id names the platform (``fbclid`` → facebook / paid, ``gclid`` →
google / cpc, …); else a referrer on another host is a referral (a search engine's is organic).
Anything else (a page of the same site, no referrer) is not a touch: the visitor keeps the source
they had.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

#: click-id parameter -> (source, medium)
CLICK_IDS = {
    "fbclid": ("facebook", "paid"),
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
    "ttclid": ("tiktok", "paid"),
    "ScCid": ("snapchat", "paid"),
    "epik": ("pinterest", "paid"),
    "rdt_cid": ("reddit", "paid"),
    "li_fat_id": ("linkedin", "paid"),
    "twclid": ("x", "paid"),
}
#: URL fragments that mark a landing with campaign parameters or a click id: the storage's cheap SQL
#: pre-filter of the lookback (:func:`touch_of` decides exactly)
TOUCH_MARKERS = ("utm_", *(f"{param}=" for param in CLICK_IDS))
SEARCH_ENGINES = ("google.", "bing.", "duckduckgo.", "yahoo.", "ecosia.", "baidu.", "yandex.", "qwant.")
MAX_LABEL = 100


@dataclass(frozen=True, order=True)
class Source:
    """A source / medium / campaign triple ("" campaign when none)."""

    source: str
    medium: str
    campaign: str = ""


DIRECT = Source("(direct)", "(none)")


def _label(value: str) -> str:
    return value.strip().lower()[:MAX_LABEL]


def _query(url: str) -> tuple[str, dict[str, str]]:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), dict(parse_qsl(parts.query))
    except ValueError:
        return "", {}


@functools.lru_cache(maxsize=65536)
def touch_of(url: str | None, referrer: str | None) -> Source | None:
    """The source an event's URL (and referrer) names, or None when it names none."""
    host, query = _query(url) if url else ("", {})
    campaign = _label(query.get("utm_campaign", ""))
    if query.get("utm_source", "").strip():
        medium = _label(query.get("utm_medium", "")) or "(not set)"
        return Source(_label(query["utm_source"]), medium, campaign)
    for param, (source, medium) in CLICK_IDS.items():
        if query.get(param):
            return Source(source, medium, campaign)
    if referrer:
        ref_host, _ = _query(referrer)
        if ref_host and ref_host != host:
            medium = "organic" if any(s in ref_host for s in SEARCH_ENGINES) else "referral"
            return Source(ref_host.removeprefix("www."), medium)
    return None


@functools.lru_cache(maxsize=65536)
def landing_page(url: str | None) -> str:
    """A URL without its query and fragment (``shop.example/product/mug``): where a visit landed."""
    if not url:
        return "(unknown)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unknown)"
    return ((parts.hostname or "") + (parts.path or "/"))[:200]


__all__ = ["CLICK_IDS", "DIRECT", "TOUCH_MARKERS", "Source", "landing_page", "touch_of"]
