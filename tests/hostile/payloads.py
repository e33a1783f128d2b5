"""The good events of the stream and the hostile inputs mixed into it."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

#: a TCF 2.2 string consenting purposes 1-11 (CONTRACT §4.1): browser events carry it, so they are allowed
#: even though their region is unknown (the country header comes from an untrusted peer)
TCF = "CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A"
CONSENT = {"tcf": TCF, "gdpr_applies": True}
ORIGIN = "https://shop.example"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) HostileSuite/1.0"
#: every raw contact detail the suite sends lives under this domain, so storage and logs can be searched
MAIL_DOMAIN = "hostile-mail.test"
NAMES = ("Purchase", "Lead", "AddToCart", "PageView")


def email(i: int) -> str:
    return f"Buyer.{i}@{MAIL_DOMAIN}"


def phone(i: int) -> str:
    return f"+1 (415) 555-{1000 + i}"


def phone_digits(i: int) -> str:
    """The phone as it would be stored if it were normalised but not hashed."""
    return f"1415555{1000 + i}"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def good_event(i: int, event_id: str, *, server: bool) -> dict[str, Any]:
    """A valid event allowed to both Meta and X, with an e-mail and a phone."""
    name = NAMES[i % len(NAMES)]
    event: dict[str, Any] = {
        "event_name": name,
        "event_id": event_id,
        "event_time": int(time.time()) - 5,
        "event_source_url": f"https://shop.example/p/{i}",
        "user": {"email": email(i), "phone": phone(i), "country": "US"},
        "consent": CONSENT,
    }
    if server:
        event["user"].update({"ip": "203.0.113.9", "user_agent": BROWSER_UA})
    if name == "Purchase":
        event["custom"] = {"value": 10 + i, "currency": "EUR", "order_id": f"o-{event_id}"}
    elif name == "AddToCart":
        event["custom"] = {"contents": [{"id": f"sku-{i}", "quantity": 1, "price": 9.5}], "num_items": 1}
    return event


def gif_query(
    event_id: str, name: str = "PageView", url: str = "https://shop.example/landing"
) -> dict[str, str]:
    """``/p.gif`` parameters of a good pixel hit (its click id in the URL gives X an identifier)."""
    return {"ev": name, "eid": event_id, "url": f"{url}?twclid=23opevjt88psuo13lu8d020qkn", "tcf": TCF}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def bad_events(tag: str) -> dict[str, dict[str, Any]]:
    """One invalid event per attack, by attack name; ``tag`` keeps ids unique per use."""

    def base(name: str) -> dict[str, Any]:
        return {
            "event_name": "Purchase",
            "event_id": f"bad-{tag}-{name}",
            "event_source_url": "https://shop.example/x",
            "user": {"email": f"victim.{tag}.{name}@{MAIL_DOMAIN}", "country": "US"},
            "consent": CONSENT,
        }

    def with_(name: str, **fields: Any) -> dict[str, Any]:
        event = base(name)
        event.update(fields)
        return event

    return {
        "nested_custom": with_("nested_custom", custom=nested(300)),
        "nul_event_name": with_("nul_event_name", event_name="Purch\x00ase"),
        "nul_event_id": with_("nul_event_id", event_id=f"bad-{tag}-nul\x00id"),
        "nul_url": with_("nul_url", event_source_url="https://shop.example/\x00x"),
        "newline_event_id": with_(
            "newline_event_id",
            event_id=f"bad-{tag}-nl\n2030-01-01 00:00:00 INFO relay: admin login ok",
        ),
        "control_event_id": with_("control_event_id", event_id=f"bad-{tag}-ctl\x1b[2J\x07\x08"),
        "contents_number": with_("contents_number", custom={"contents": 5}),
        "contents_not_objects": with_("contents_not_objects", custom={"contents": [1, "sku", None]}),
        "content_ids_dict": with_("content_ids_dict", custom={"content_ids": {"a": 1}}),
        "num_items_text": with_("num_items_text", custom={"num_items": "many"}),
        "time_superscript": with_("time_superscript", event_time="²"),
        "time_1e999": with_("time_1e999", event_time="1e999"),
        "time_huge_int": with_("time_huge_int", event_time=10**400),
        "time_list": with_("time_list", event_time=[]),
    }


def body(value: Any) -> bytes:
    """JSON as the attacker writes it (big integers, escaped NULs and all)."""
    return json.dumps(value).encode()


def regex_bombs(tag: str) -> dict[str, bytes]:
    """~60 KB ``/v1/collect`` bodies built for backtracking e-mail and redaction regexes."""
    size = 60_000

    def event(name: str, **fields: Any) -> bytes:
        ev = {"event_name": "Lead", "event_id": f"bomb-{tag}-{name}", "consent": CONSENT, **fields}
        return body(ev)

    dots, a_dots = "a@" + "." * size + "@", "a@" + "a." * (size // 2) + "@"
    return {
        "email_dots": event("email_dots", user={"email": dots}),
        "email_a_dots": event("email_a_dots", user={"email": a_dots}),
        "email_a_at": event("email_a_at", user={"email": "a@" * (size // 2)}),
        "email_no_at": event("email_no_at", user={"email": "a" * size}),
        "email_list": event("email_list", user={"email": ["a@" + "." * 400 + "@"] * (size // 410)}),
        "url_no_at": event("url_no_at", event_source_url="https://shop.example/?q=" + "a" * size),
        "url_dots": event("url_dots", event_source_url="https://shop.example/?e=" + a_dots),
        "custom_no_at": event("custom_no_at", custom={"note": "a" * size}),
        "custom_dots": event("custom_dots", custom={"note": dots}),
        "custom_a_at_a_dot": event("custom_a_at_a_dot", custom={"note": "a@a." * (size // 4)}),
    }
