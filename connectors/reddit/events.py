"""Relay events as Reddit Conversions API v3 events (``{"data": {"events": [...]}}``).

=================================  =================================================================
Reddit field                       from
=================================  =================================================================
``event_at``                       ``event_time`` in **milliseconds** (v2 took ISO text; seconds
                                   would file the conversion in 1970)
``action_source``                  ``WEBSITE``, ``APP``, ``PHYSICAL_STORE``, else ``OTHER``
``type.tracking_type``             the ``events`` override, else :data:`STANDARD_EVENTS`, else
                                   ``CUSTOM`` with ``custom_event_name`` = the event name
``click_id``                       ``rdt_cid`` (URL ``rdt_cid`` / ``_rdt_cid``), raw
``event_source_url``               ``event_source_url``
``metadata.conversion_id``         ``event_id`` (as given: the Reddit Pixel must send the same)
``metadata.currency value          ``custom.currency``, ``custom.value``, the number of items,
item_count products``              ``contents[{id, name, category, item_price, quantity}]``
``user.email``                     the first email, dots and ``+suffix`` of its local part removed
``user.phone_number``              the first ``ph_e164`` hash (E.164 **with** ``+``)
``user.external_id``               the first ``external_id`` hash
``user.ip_address``                SHA-256 of the IP (Reddit hashes it, unlike the others)
``user.user_agent`` / ``uuid``     the user agent and ``rdt_uuid`` (the ``_rdt_uuid`` cookie), raw
``user.data_processing_options``   ``{modes: ["LDU"], country, region}`` when consent says ``ldu``
=================================  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import payload as p
from connectors.platform import PlatformApi
from relay.normalize import sha256_hex
from relay.types import OutboundEvent

STANDARD_EVENTS = {
    "PageView": "PAGE_VISIT",
    "ViewContent": "VIEW_CONTENT",
    "Search": "SEARCH",
    "AddToCart": "ADD_TO_CART",
    "AddToWishlist": "ADD_TO_WISHLIST",
    "Purchase": "PURCHASE",
    "Lead": "LEAD",
    "CompleteRegistration": "SIGN_UP",
}
TRACKING_TYPES = frozenset({*STANDARD_EVENTS.values(), "CUSTOM"})
ACTION_SOURCES = {"website": "WEBSITE", "app": "APP", "physical_store": "PHYSICAL_STORE"}
#: ``metadata.products[]`` keys and the product fields they carry
PRODUCT_FIELDS = dict(id="id", name="name", category="category", item_price="price", quantity="quantity")
MATCH_KEYS = ("email", "phone_number", "external_id", "uuid")
NO_IDENTIFIER = (
    "no identifier Reddit matches (rdt_cid, email, phone, external_id, _rdt_uuid, or IP with user agent)"
)


def tracking_type(name: str) -> dict[str, str]:
    """``type``: a standard tracking type, or ``CUSTOM`` carrying the name."""
    if name in TRACKING_TYPES and name != "CUSTOM":
        return {"tracking_type": name}
    return {"tracking_type": "CUSTOM", "custom_event_name": name}


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def processing_options(event: OutboundEvent) -> dict[str, Any] | None:
    if not (event.consent.decision == "limited" and event.consent.mode == "ldu"):
        return None
    if event.consent.ldu == (1, 1000):  # California, as the relay's LDU geography says it
        return {"modes": ["LDU"], "country": "US", "region": "US-CA"}
    return {"modes": ["LDU"]}


def user(event: OutboundEvent) -> dict[str, Any]:
    ip = (event.ip or "").strip()
    return p.compact(
        {
            "email": _first(p.hashes(event, "em_reddit") or p.hashes(event, "em")),
            "phone_number": _first(p.hashes(event, "ph_e164")),
            "external_id": _first(p.hashes(event, "external_id")),
            "ip_address": sha256_hex(ip) if ip else None,
            "user_agent": (event.user_agent or "").strip() or None,
            "uuid": p.raw_id(event, "rdt_uuid"),
            "data_processing_options": processing_options(event),
        }
    )


def matchable(event: OutboundEvent, data: Mapping[str, Any]) -> bool:
    return (
        p.raw_id(event, "rdt_cid") is not None
        or any(k in data for k in MATCH_KEYS)
        or ("ip_address" in data and "user_agent" in data)
    )


def metadata(event: OutboundEvent) -> dict[str, Any]:
    custom = event.custom
    products = p.items(custom)
    listed = p.product_list(products, PRODUCT_FIELDS)
    return p.compact(
        {
            "conversion_id": event.event_id,
            "currency": p.currency(custom.get("currency")),
            "value": p.number(custom.get("value")),
            "item_count": p.total_items(custom, products),
            "products": [x for x in listed if x],
        }
    )


def item(event: OutboundEvent, name: str) -> dict[str, Any]:
    """One ``events[]`` element for ``event``, sent as ``name`` (a tracking type or a custom name)."""
    out: dict[str, Any] = {
        "event_at": int(event.event_time) * 1000,
        "action_source": ACTION_SOURCES.get(event.action_source, "OTHER"),
        "type": tracking_type(name),
    }
    click_id = p.raw_id(event, "rdt_cid")
    if click_id:
        out["click_id"] = click_id
    if event.event_source_url:
        out["event_source_url"] = event.event_source_url
    out["metadata"] = metadata(event)
    out["user"] = user(event)
    return out


#: Reddit's events endpoint, 1,000 events a request, refused when older than 7 days (168 hours)
API = PlatformApi("Reddit", "/api/v3/pixels/{s.pixel_id}/conversion_events", 1000, item, 7, STANDARD_EVENTS)

__all__ = [
    "API",
    "NO_IDENTIFIER",
    "STANDARD_EVENTS",
    "TRACKING_TYPES",
    "item",
    "matchable",
    "metadata",
    "tracking_type",
    "user",
]
