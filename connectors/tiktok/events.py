"""Relay events as TikTok Events API 2.0 ``data[]`` items (``POST /open_api/v1.3/event/track/``).

============================  =======================================================================
TikTok field                  from
============================  =======================================================================
``event``                     the ``events`` override, else :data:`STANDARD_EVENTS`, else the name
``event_time``                ``event_time`` (Unix seconds)
``event_id``                  ``event_id`` (TikTok dedups ``event`` + ``event_id`` for 48 h)
``user.email``                ``em`` hashes (trimmed, lowercased, SHA-256)
``user.phone``                ``ph_e164`` hashes (E.164 **with** ``+``, SHA-256)
``user.external_id``          ``external_id`` hashes
``user.ttclid`` / ``ttp``     ``ttclid`` (URL / ``_ttclid``) and ``ttp`` (``_ttp`` cookie), raw
``user.ip`` / ``user_agent``  the event's IP and user agent, raw
``properties``                ``custom``: ``value``, ``currency``, ``contents[{content_id,
                              content_name, content_category, brand, price, quantity}]``,
                              ``content_type``, ``order_id``, ``query`` (``search_string``),
                              ``description``, ``num_items``
``page``                      ``{url: event_source_url, referrer: referrer_url}``
``limited_data_use``          true when consent decided ``limited`` with ``us_opt_out: ldu``
============================  =======================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import payload as p
from connectors.platform import PlatformApi
from relay.types import OutboundEvent

API_VERSION = "v1.3"

#: the relay's standard (Meta) names -> TikTok's standard events; other names go as custom events
STANDARD_EVENTS = {
    "PageView": "Pageview",
    "ViewContent": "ViewContent",
    "Search": "Search",
    "AddToCart": "AddToCart",
    "AddToWishlist": "AddToWishlist",
    "InitiateCheckout": "InitiateCheckout",
    "AddPaymentInfo": "AddPaymentInfo",
    "Purchase": "CompletePayment",
    "Lead": "SubmitForm",
    "CompleteRegistration": "CompleteRegistration",
    "Contact": "Contact",
    "Subscribe": "Subscribe",
}
NO_IDENTIFIER = "no identifier TikTok matches (email, phone, external_id, ttclid, ttp, or IP with user agent)"
WEB_ONLY = "TikTok pixels take website events only (event_source web); action_source is {}"


def user(event: OutboundEvent) -> dict[str, Any]:
    """The ``user`` object: hashed contact details and raw ids."""
    return p.compact(
        {
            "email": p.hashes(event, "em"),
            "phone": p.hashes(event, "ph_e164"),
            "external_id": p.hashes(event, "external_id"),
            "ttclid": p.raw_id(event, "ttclid"),
            "ttp": p.raw_id(event, "ttp"),
            "ip": (event.ip or "").strip() or None,
            "user_agent": (event.user_agent or "").strip() or None,
        }
    )


def matchable(data: Mapping[str, Any]) -> bool:
    """Whether ``user`` holds something TikTok can match a person on."""
    return any(k in data for k in ("email", "phone", "external_id", "ttclid", "ttp")) or (
        "ip" in data and "user_agent" in data
    )


#: ``properties.contents[]`` keys and the product fields they carry
PRODUCT_FIELDS = {
    "content_id": "id",
    "content_name": "name",
    "content_category": "category",
    "brand": "brand",
    "price": "price",
    "quantity": "quantity",
}


def properties(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The ``properties`` object from the event's ``custom`` data."""
    products = p.items(custom)
    contents = p.product_list(products, PRODUCT_FIELDS)
    return p.compact(
        {
            "value": p.number(custom.get("value")),
            "currency": p.currency(custom.get("currency")),
            "contents": contents,
            "content_type": p.text(custom.get("content_type")) or ("product" if contents else None),
            "order_id": p.text(custom.get("order_id")),
            "query": p.text(custom.get("search_string")),
            "description": p.text(custom.get("description")) or p.text(custom.get("content_name")),
            "num_items": p.total_items(custom, products),
        }
    )


def item(event: OutboundEvent, name: str) -> dict[str, Any]:
    """One ``data[]`` element for ``event``, sent as TikTok event ``name``."""
    out: dict[str, Any] = {
        "event": name,
        "event_time": int(event.event_time),
        "event_id": event.event_id,
        "user": user(event),
    }
    props = properties(event.custom)
    if props:
        out["properties"] = props
    page = p.compact({"url": event.event_source_url, "referrer": event.referrer_url})
    if page:
        out["page"] = page
    out["limited_data_use"] = event.consent.decision == "limited" and event.consent.mode == "ldu"
    return out


#: TikTok's events endpoint, 1,000 events a request; its window for web events [unverified: the
#: click id lives 7 days; older events are refused]
API = PlatformApi("TikTok", f"/open_api/{API_VERSION}/event/track/", 1000, item, 7, STANDARD_EVENTS)

__all__ = ["API", "NO_IDENTIFIER", "STANDARD_EVENTS", "WEB_ONLY", "item", "matchable", "properties", "user"]
