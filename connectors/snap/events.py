"""Relay events as Snapchat Conversions API v3 ``data[]`` items (``POST /v3/{pixel_id}/events``).

===================================  ===============================================================
Snap field                           from
===================================  ===============================================================
``event_name``                       the ``events`` override, else :data:`STANDARD_EVENTS` (other
                                     names are skipped: map them under ``events``)
``event_time``                       ``event_time`` (Unix seconds)
``event_id``                         ``event_id`` (dedup with the Snap Pixel)
``action_source``                    ``WEB`` (website), ``MOBILE_APP`` (app), else ``OFFLINE``
``event_source_url``                 ``event_source_url``
``user_data.em`` / ``ph``            ``em`` hashes; ``ph`` hashes (digits with country code, **no** ``+``)
``user_data.fn ln ge db ct st zp``   the hashed name, gender, birth date, city, state, zip
``user_data.country``                hashed ISO alpha-2, lowercase
``user_data.external_id``            ``external_id`` hashes
``user_data.sc_click_id``            ``sc_click_id`` (URL ``ScCid`` / ``_scclid``), raw
``user_data.sc_cookie1``             ``scid`` (the ``_scid`` cookie), raw
``user_data.client_ip_address``      the event's IP and user agent, raw; ``madid``, ``lead_id``,
``client_user_agent`` ...            ``subscription_id`` raw
``custom_data``                      ``currency``, ``value``, ``content_ids``, ``contents[{id,
                                     quantity, item_price}]``, ``num_items``, ``order_id``,
                                     ``search_string``, ``content_name``, ``content_category``
``data_processing_options``          ``["LDU"]`` with country/state when consent says ``ldu``
===================================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import payload as p
from connectors.platform import PlatformApi
from relay.types import OutboundEvent

STANDARD_EVENTS = {
    "PageView": "PAGE_VIEW",
    "ViewContent": "VIEW_CONTENT",
    "Search": "SEARCH",
    "AddToCart": "ADD_CART",
    "AddToWishlist": "SAVE",
    "InitiateCheckout": "START_CHECKOUT",
    "AddPaymentInfo": "ADD_BILLING",
    "Purchase": "PURCHASE",
    "CompleteRegistration": "SIGN_UP",
    "Subscribe": "SUBSCRIBE",
    "StartTrial": "START_TRIAL",
}
ACTION_SOURCES = {"website": "WEB", "app": "MOBILE_APP"}
RAW_IDS = {
    "sc_click_id": "sc_click_id",
    "scid": "sc_cookie1",
    "madid": "madid",
    "lead_id": "lead_id",
    "subscription_id": "subscription_id",
}
MATCH_KEYS = ("em", "ph", "sc_click_id", "sc_cookie1", "madid")
NO_IDENTIFIER = "no identifier Snap matches (email, phone, ScCid, _scid, madid, or IP with user agent)"


def user_data(event: OutboundEvent) -> dict[str, Any]:
    """The ``user_data`` object: hashed contact details (lists) and raw ids."""
    data: dict[str, Any] = {key: p.hashes(event, key) for key in p.USER_DATA_KEYS}
    for key, target in RAW_IDS.items():
        data[target] = p.raw_id(event, key)
    if data.get("madid"):
        data["madid"] = data["madid"].lower()
    data["client_ip_address"] = (event.ip or "").strip() or None
    data["client_user_agent"] = (event.user_agent or "").strip() or None
    return p.compact(data)


def matchable(data: Mapping[str, Any]) -> bool:
    return any(k in data for k in MATCH_KEYS) or ("client_ip_address" in data and "client_user_agent" in data)


def custom_data(custom: Mapping[str, Any]) -> dict[str, Any]:
    products = p.items(custom)
    contents = p.product_list(products, {"id": "id", "quantity": "quantity", "item_price": "price"})
    return p.standard_custom(custom, products, p.number(custom.get("value")), contents)


def item(event: OutboundEvent, name: str) -> dict[str, Any]:
    """One ``data[]`` element for ``event``, sent as Snap event ``name``."""
    out: dict[str, Any] = {
        "event_name": name,
        "event_time": int(event.event_time),
        "event_id": event.event_id,
        "action_source": ACTION_SOURCES.get(event.action_source, "OFFLINE"),
    }
    if event.event_source_url:
        out["event_source_url"] = event.event_source_url
    out["user_data"] = user_data(event)
    custom = custom_data(event.custom)
    if custom:
        out["custom_data"] = custom
    if event.consent.decision == "limited" and event.consent.mode == "ldu":
        country, state = event.consent.ldu or (0, 0)
        out["data_processing_options"] = ["LDU"]
        out["data_processing_options_country"] = country
        out["data_processing_options_state"] = state
    return out


#: Snap's events endpoint, 2,000 events a request, web events up to 7 days old [unverified]
API = PlatformApi("Snap", "/v3/{s.pixel_id}/events", 2000, item, 7, STANDARD_EVENTS)

__all__ = ["API", "NO_IDENTIFIER", "STANDARD_EVENTS", "custom_data", "item", "matchable", "user_data"]
