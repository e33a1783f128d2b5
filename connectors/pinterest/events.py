"""Relay events as Pinterest Conversions API events (``{"data": [...]}``, API v5).

==============================  ====================================================================
Pinterest field                 from
==============================  ====================================================================
``event_name``                  the ``events`` override, else :data:`STANDARD_EVENTS`, else ``custom``
``action_source``               ``web`` (website), ``offline`` (store, phone, ...); app events skipped
``event_time``                  ``event_time`` (Unix seconds)
``event_id``                    ``event_id`` (dedup with the Pinterest tag)
``event_source_url``            ``event_source_url``
``opt_out``                     the event's ``opt_out``
``user_data.em`` / ``ph``       ``em`` hashes; ``ph`` hashes (digits with country code, **no** ``+``)
``user_data.fn ln ge db ct st   the hashed names, gender, birth date, city, state, zip, country,
zp country external_id``        external id (lists)
``user_data.hashed_maids``      SHA-256 of the lowercased ``madid``
``user_data.click_id``          ``epik`` (URL ``epik`` / ``_epik`` cookie), raw
``user_data.client_ip_address`` the event's IP and user agent, raw
``client_user_agent``
``custom_data``                 ``currency``, ``value`` (a string), ``content_ids``, ``contents[{id,
                                item_price (string), quantity, item_name, item_category,
                                item_brand}]``, ``num_items``, ``order_id``, ``search_string``,
                                ``content_name``, ``content_category``
==============================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import payload as p
from connectors.platform import PlatformApi
from relay.normalize import sha256_hex
from relay.types import OutboundEvent

STANDARD_EVENTS = {
    "PageView": "page_visit",
    "ViewContent": "page_visit",
    "Search": "search",
    "AddToCart": "add_to_cart",
    "Purchase": "checkout",
    "Lead": "lead",
    "CompleteRegistration": "signup",
}
ACTION_SOURCES = {
    "website": "web",
    "physical_store": "offline",
    "phone_call": "offline",
    "email": "offline",
    "chat": "offline",
    "system_generated": "offline",
    "business_messaging": "offline",
    "other": "offline",
}
NO_IDENTIFIER = "no identifier Pinterest requires (email, mobile ad id, or IP with user agent)"
APP_EVENTS = "Pinterest needs app_android or app_ios for app events; the relay cannot tell which: skipped"


def user_data(event: OutboundEvent) -> dict[str, Any]:
    data: dict[str, Any] = {key: p.hashes(event, key) for key in p.USER_DATA_KEYS}
    madid = p.raw_id(event, "madid")
    data["hashed_maids"] = [sha256_hex(madid.lower())] if madid else None
    data["client_ip_address"] = (event.ip or "").strip() or None
    data["client_user_agent"] = (event.user_agent or "").strip() or None
    data["click_id"] = p.raw_id(event, "epik")
    return p.compact(data)


def matchable(data: Mapping[str, Any]) -> bool:
    """Pinterest's schema: ``em``, ``hashed_maids``, or ``client_ip_address`` with ``client_user_agent``."""
    return (
        "em" in data
        or "hashed_maids" in data
        or ("client_ip_address" in data and "client_user_agent" in data)
    )


#: ``custom_data.contents[]`` keys and the product fields they carry (the price as decimal text)
PRODUCT_FIELDS: p.ProductFields = {
    "id": "id",
    "item_price": lambda i: p.decimal_text(i.price),
    "quantity": "quantity",
    "item_name": "name",
    "item_category": "category",
    "item_brand": "brand",
}


def custom_data(custom: Mapping[str, Any]) -> dict[str, Any]:
    products = p.items(custom)
    contents = p.product_list(products, PRODUCT_FIELDS)
    return p.standard_custom(custom, products, p.decimal_text(custom.get("value")), contents)


def item(event: OutboundEvent, name: str) -> dict[str, Any]:
    """One ``data[]`` element for ``event``, sent as Pinterest event ``name``."""
    out: dict[str, Any] = {
        "event_name": name,
        "action_source": ACTION_SOURCES[event.action_source],
        "event_time": int(event.event_time),
        "event_id": event.event_id,
        "event_source_url": event.event_source_url or None,
        "opt_out": bool(event.opt_out),
        "user_data": user_data(event),
        "custom_data": custom_data(event.custom) or None,
    }
    return {key: value for key, value in out.items() if value is not None}  # a missing url, no custom data


#: Pinterest's events endpoint, 1,000 events a request, events up to 7 days old [unverified]
API = PlatformApi("Pinterest", "/v5/ad_accounts/{s.ad_account_id}/events", 1000, item, 7, STANDARD_EVENTS)

__all__ = [
    "ACTION_SOURCES",
    "API",
    "APP_EVENTS",
    "NO_IDENTIFIER",
    "STANDARD_EVENTS",
    "custom_data",
    "item",
    "matchable",
    "user_data",
]
