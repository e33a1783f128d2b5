"""First-party identity: click ids from landing URLs and cookies,
and the first-party cookies the relay sets (CONTRACT §6)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

#: landing-URL parameter -> the event's id key (``fbclid`` becomes ``fbc``, see :func:`click_ids_from_url`)
URL_CLICK_IDS = {
    "twclid": "twclid",  # X
    "ttclid": "ttclid",  # TikTok
    "ScCid": "sc_click_id",  # Snapchat
    "epik": "epik",  # Pinterest
    "rdt_cid": "rdt_cid",  # Reddit
    "li_fat_id": "li_fat_id",  # LinkedIn
    "gclid": "gclid",  # Google Ads: web click, iOS app-to-web, web-to-app
    "gbraid": "gbraid",
    "wbraid": "wbraid",
}
#: first-party cookie -> the event's id key: the relay's own (``_fbc``, ``_twclid``, ``_ttclid``,
#: ``_scclid``, ``_gbraid``, ``_wbraid``) and the platforms' tags' (``_fbp``, ``_ttp``, ``_scid``,
#: ``_epik``, ``_rdt_cid``, ``_rdt_uuid``, ``li_fat_id``, Google's ``_gcl_aw``: ``GCL.<seconds>.<gclid>``)
COOKIE_IDS = {
    "_fbp": "fbp",
    "_fbc": "fbc",
    "_twclid": "twclid",
    "_ttclid": "ttclid",
    "_ttp": "ttp",
    "_scclid": "sc_click_id",
    "_scid": "scid",
    "_epik": "epik",
    "_rdt_cid": "rdt_cid",
    "_rdt_uuid": "rdt_uuid",
    "li_fat_id": "li_fat_id",
    "_gcl_aw": "gclid",
    "_gbraid": "gbraid",
    "_wbraid": "wbraid",
}
#: id key -> the cookie the relay keeps a click id in, once seen on a landing URL
CLICK_COOKIES = {
    "fbc": "_fbc",
    "twclid": "_twclid",
    "ttclid": "_ttclid",
    "sc_click_id": "_scclid",
    "epik": "_epik",
    "rdt_cid": "_rdt_cid",
    "li_fat_id": "li_fat_id",
    "gclid": "_gcl_aw",
    "gbraid": "_gbraid",
    "wbraid": "_wbraid",
}
#: the ids a response may turn into cookies
COOKIE_KEYS = frozenset({"fbp", *CLICK_COOKIES})
VISITOR_COOKIE = "_rl_id"
#: every cookie the relay sets (and reads back)
FIRST_PARTY_COOKIES = (VISITOR_COOKIE, *COOKIE_IDS)
FBC_MAX_AGE = 90 * 86400
FBP_MAX_AGE = 390 * 86400
CLICK_MAX_AGE = 390 * 86400
#: Google's ``_gcl_aw`` lives 90 days, like its click attribution
GCLID_MAX_AGE = 90 * 86400
_URL_MARKERS = ("clid=", *(f"{param}=" for param in URL_CLICK_IDS))


def click_ids_from_url(url: str | None, now: float) -> dict[str, str]:
    """``fbc`` (Meta's ``fb.1.<ms>.<fbclid>`` form) and the click ids of :data:`URL_CLICK_IDS` from a
    landing URL."""
    if not url or not any(marker in url for marker in _URL_MARKERS):
        return {}
    try:
        query = dict(parse_qsl(urlsplit(url).query))
    except ValueError:
        return {}
    found: dict[str, str] = {}
    if fbclid := query.get("fbclid"):
        found["fbc"] = f"fb.1.{int(now * 1000)}.{fbclid}"
    for param, key in URL_CLICK_IDS.items():
        if value := query.get(param):
            found[key] = value
    return found


def gclid_of(gcl_aw: str) -> str:
    """The gclid inside Google's ``_gcl_aw`` cookie (``GCL.<seconds>.<gclid>``); another value as it is."""
    parts = gcl_aw.split(".", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "GCL" and parts[2] else gcl_aw


def _cookie_value(key: str, value: str, now: float) -> str:
    """A click id as its cookie holds it (Google's form for ``_gcl_aw``)."""
    return f"GCL.{int(now)}.{value}" if key == "gclid" else value


def ids_from_cookies(cookies: Mapping[str, str]) -> dict[str, str]:
    """The event's ids from the first-party cookies (by :data:`COOKIE_IDS`)."""
    ids = {key: cookies[name] for name, key in COOKIE_IDS.items() if cookies.get(name)}
    if "gclid" in ids:
        ids["gclid"] = gclid_of(ids["gclid"])
    return ids


def fbclid_of(fbc: str | None) -> str | None:
    """The click id inside an ``fbc`` value (the 4th dot-segment; a 5th is a param-builder appendix)."""
    if not fbc:
        return None
    parts = fbc.split(".")
    return parts[3] if len(parts) >= 4 else None


def merge_click_ids(cookies: Mapping[str, str], url: str | None, now: float) -> dict[str, str]:
    """Ids from the first-party cookies (by cookie name), updated by click ids on the landing URL: a new
    fbclid replaces the old ``_fbc``; the same fbclid keeps the cookie (and its original landing time)."""
    ids = ids_from_cookies(cookies)
    for key, value in click_ids_from_url(url, now).items():
        if key == "fbc" and fbclid_of(ids.get("fbc")) == fbclid_of(value):
            continue
        ids[key] = value
    return ids


def new_fbp(now: float) -> str:
    """A ``_fbp`` value in Meta's format: ``fb.1.<creation ms>.<random 10 digits>``."""
    number = 1_000_000_000 + secrets.randbelow(1_147_483_647)
    return f"fb.1.{int(now * 1000)}.{number}"


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class CookieSpec:
    name: str
    value: str
    max_age: int
    httponly: bool


def cookies_to_set(current: Mapping[str, str], ids: Mapping[str, str], now: float) -> list[CookieSpec]:
    """The first-party cookies a response should set: visitor id and ``_fbp`` when missing, click
    ids when new or changed. Call only when storage consent allows cookies."""
    out: list[CookieSpec] = []
    if not current.get(VISITOR_COOKIE):
        out.append(CookieSpec(VISITOR_COOKIE, new_visitor_id(), FBP_MAX_AGE, True))
    fbp = ids.get("fbp") or current.get("_fbp")
    if not current.get("_fbp"):
        fbp = fbp if fbp and cookie_safe(fbp) else new_fbp(now)
        out.append(CookieSpec("_fbp", fbp, FBP_MAX_AGE, False))
    for key, cookie in CLICK_COOKIES.items():
        value = ids.get(key)
        if value and value != ids_from_cookies({cookie: current.get(cookie, "")}).get(key):
            text = _cookie_value(key, value, now)
            if cookie_safe(text):  # else the event keeps the id, and no cookie carries it
                out.append(CookieSpec(cookie, text, _CLICK_AGES.get(key, CLICK_MAX_AGE), False))
    return out


_COOKIE_SAFE = re.compile(r"[\x21-\x7e]+")


def cookie_safe(value: str) -> bool:
    """Whether ``value`` can be a cookie value as it is: visible ASCII (a ``Set-Cookie`` header is Latin-1,
    and a browser would not send back what it cannot store); a click id of other characters (``€`` in a
    landing URL, an event's own ``fbp``) stays with the event, in no cookie."""
    return _COOKIE_SAFE.fullmatch(value) is not None


_CLICK_AGES = {"fbc": FBC_MAX_AGE, "gclid": GCLID_MAX_AGE}
