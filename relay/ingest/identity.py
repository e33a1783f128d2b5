"""First-party identity: the client IP through trusted proxies, click ids from landing URLs,
and the first-party cookies the relay sets (CONTRACT §6)."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

#: cookie name -> the event's id key
COOKIE_IDS = {"_fbp": "fbp", "_fbc": "fbc", "_twclid": "twclid", "_ttclid": "ttclid", "_ttp": "ttp"}
VISITOR_COOKIE = "_rl_id"
#: every cookie the relay sets (and reads back)
FIRST_PARTY_COOKIES = (VISITOR_COOKIE, *COOKIE_IDS)
FBC_MAX_AGE = 90 * 86400
FBP_MAX_AGE = 390 * 86400
CLICK_MAX_AGE = 390 * 86400


class ProxyList:
    """``server.trusted_proxies`` parsed once."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries]

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The visitor's IP: walk ``X-Forwarded-For`` from the right while hops are trusted proxies."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not _valid_ip(hop):
                return peer
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def click_ids_from_url(url: str | None, now: float) -> dict[str, str]:
    """``fbc`` (Meta's ``fb.1.<ms>.<fbclid>`` form), ``twclid`` and ``ttclid`` from a landing URL."""
    if not url or "clid=" not in url:
        return {}
    try:
        query = dict(parse_qsl(urlsplit(url).query))
    except ValueError:
        return {}
    found: dict[str, str] = {}
    if fbclid := query.get("fbclid"):
        found["fbc"] = f"fb.1.{int(now * 1000)}.{fbclid}"
    if twclid := query.get("twclid"):
        found["twclid"] = twclid
    if ttclid := query.get("ttclid"):
        found["ttclid"] = ttclid
    return found


def fbclid_of(fbc: str | None) -> str | None:
    """The click id inside an ``fbc`` value (the 4th dot-segment; a 5th is a param-builder appendix)."""
    if not fbc:
        return None
    parts = fbc.split(".")
    return parts[3] if len(parts) >= 4 else None


def merge_click_ids(cookies: Mapping[str, str], url: str | None, now: float) -> dict[str, str]:
    """Ids from the first-party cookies (by cookie name), updated by click ids on the landing URL: a new
    fbclid replaces the old ``_fbc``; the same fbclid keeps the cookie (and its original landing time)."""
    ids = {key: cookies[name] for name, key in COOKIE_IDS.items() if name in cookies}
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
        out.append(CookieSpec("_fbp", fbp or new_fbp(now), FBP_MAX_AGE, False))
    for cookie, key in (("_fbc", "fbc"), ("_twclid", "twclid"), ("_ttclid", "ttclid")):
        value = ids.get(key)
        if value and value != current.get(cookie):
            out.append(CookieSpec(cookie, value, FBC_MAX_AGE if key == "fbc" else CLICK_MAX_AGE, False))
    return out
