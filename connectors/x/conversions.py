"""Relay events as X conversions (the body of ``POST /12/measurement/conversions/{pixel_id}``).

Mapping (``custom`` is the event's free-form data):

==========================  =====================================================================
X field                     from
==========================  =====================================================================
``conversion_time``         ``event_time``, UTC, ``YYYY-MM-DDTHH:MM:SS.sssZ``
``event_id``                the event tag configured for the event name (``event_tags``)
``conversion_id``           the relay's ``event_id`` (X dedups it against the pixel's)
``identifiers``             ``{"twclid"}`` raw; one ``{"hashed_email"}`` per ``em`` hash; one
                            ``{"hashed_phone_number"}`` per ``ph_e164`` hash (E.164 with ``+``);
                            ``{"ip_address", "user_agent"}`` together in one object
``value``                   ``custom.value`` (a JSON number)
``price_currency``          ``custom.currency``, upper case
``number_items``            ``custom.num_items``, else the sum of the contents' quantities
``description``             ``custom.description``, else ``custom.content_name``
``contents``                ``custom.contents`` items ``{id, name, price, quantity, type|category,
                            group_id}`` -> ``{content_id, content_name, content_price, num_items,
                            content_type, content_group_id}``; else ``custom.content_ids``
==========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors import payload as p
from connectors.hashes import hashes
from relay.types import OutboundEvent

NO_IDENTIFIER = "no identifier X accepts (twclid, email or phone)"


def no_tag_reason(event_name: str) -> str:
    """Why an event name is never sent to X."""
    return f"no X event tag for event {event_name!r} (event_tags)"


def conversion_time(timestamp: float) -> str:
    """Unix seconds as X wants them: ``2022-02-18T01:14:00.603Z`` (UTC, milliseconds, ``Z``)."""
    millis = round(timestamp * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"


def valid_hashes(values: Sequence[str] | str) -> list[str]:
    """Distinct lowercase SHA-256 hex digests of ``values`` (a list, or one string), without Meta's
    parameter-builder appendix; anything else is dropped, because one malformed hash makes X reject the
    whole request."""
    return hashes(values, appendix=False)


def identifiers(event: OutboundEvent) -> list[dict[str, str]]:
    """The event's ``identifiers``; empty when it has none of twclid, email or phone."""
    found: list[dict[str, str]] = []
    twclid = (event.ids.get("twclid") or "").strip()
    if twclid:
        found.append({"twclid": twclid})
    found += [{"hashed_email": h} for h in valid_hashes(event.hashed.get("em", ()))]
    found += [{"hashed_phone_number": h} for h in valid_hashes(event.hashed.get("ph_e164", ()))]
    if not found:
        return []  # X refuses ip_address / user_agent alone
    device = {"ip_address": (event.ip or "").strip(), "user_agent": (event.user_agent or "").strip()}
    device = {k: v for k, v in device.items() if v}
    return [*found, device] if device else found


def to_conversion(event: OutboundEvent, event_tag: str) -> dict[str, Any]:
    """One entry of the ``conversions`` array."""
    conversion: dict[str, Any] = {
        "conversion_time": conversion_time(event.event_time),
        "event_id": event_tag,
        "identifiers": identifiers(event),
        "conversion_id": event.event_id,
    }
    conversion.update(custom_fields(event.custom))
    return conversion


def custom_fields(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The optional conversion fields X has, from the event's ``custom`` data."""
    contents = _contents(custom)
    fields: dict[str, Any] = {
        "value": p.number(custom.get("value")),
        "price_currency": p.currency(custom.get("currency")),
        "number_items": p.count(custom.get("num_items"))
        or p.count(sum(c.get("num_items", 0) for c in contents)),
        "description": p.text(custom.get("description")) or p.text(custom.get("content_name")),
        "contents": contents or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _contents(custom: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = custom.get("contents")
    if items is not None and not isinstance(items, list):
        # as for Meta: malformed product data fails the event (alone) rather than going out without it
        raise TypeError(f"custom.contents must be a list, not {type(items).__name__}")
    if items:
        return [content for item in items if isinstance(item, Mapping) if (content := _content(item))]
    ids = custom.get("content_ids")
    if isinstance(ids, list):
        return [{"content_id": text} for value in ids if (text := p.text(value))]
    return []


def _content(item: Mapping[str, Any]) -> dict[str, Any]:
    content = {
        "content_id": p.text(item.get("id")),
        "content_name": p.text(item.get("name")),
        "content_price": p.number(item.get("price")),
        "content_type": p.text(item.get("type")) or p.text(item.get("category")),
        "num_items": p.count(item.get("quantity")),
        "content_group_id": p.text(item.get("group_id")),
    }
    return {k: v for k, v in content.items() if v is not None}


__all__ = [
    "NO_IDENTIFIER",
    "conversion_time",
    "custom_fields",
    "identifiers",
    "no_tag_reason",
    "to_conversion",
    "valid_hashes",
]
