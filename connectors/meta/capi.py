"""The canonical event mapped to a Conversions API server event (meta.md §2-§4).

Contact details arrive hashed (``OutboundEvent.hashed``, lists of SHA-256 hex); device and click
ids arrive raw (``OutboundEvent.ids``). Every function here is pure, so payloads can be compared
with golden ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import payload as p
from connectors.hashes import hashes, usable_hash
from relay.types import OutboundEvent

#: split keys Meta also reads; sent only when the combined key (``fn`` / ``db``) is missing
FALLBACK_USER_KEYS = {"fi": "fn", "doby": "db", "dobm": "db", "dobd": "db"}
#: ``OutboundEvent.ids`` keys passed through raw in ``user_data`` (never hashed)
RAW_USER_KEYS = (
    "fbc",
    "fbp",
    "subscription_id",
    "lead_id",
    "fb_login_id",
    "anon_id",
    "madid",
    "page_id",
    "page_scoped_user_id",
    "ctwa_clid",
    "ig_account_id",
    "ig_sid",
)
ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
#: the ``custom`` keys with a fixed meaning in ``custom_data``, in the order they are written
STANDARD_CUSTOM_KEYS = (
    "value",
    "currency",
    "content_ids",
    "contents",
    "content_type",
    "content_name",
    "content_category",
    "order_id",
    "num_items",
    "search_string",
    "status",
    "predicted_ltv",
)
MAX_AGE_SECONDS = 7 * 86400
MAX_AGE_PHYSICAL_STORE_SECONDS = 62 * 86400
#: clock skew tolerated for timestamps slightly in the future; they are sent as "now"
FUTURE_SKEW_SECONDS = 300


def is_hash(value: str) -> bool:
    """True for a SHA-256 hex digest as Meta takes it (lower case, optionally with a Parameter Builder
    appendix), except the hash of the empty string, which Meta must never receive."""
    return usable_hash(value) == value


#: the usable hashes of one key, in order, without duplicates (nothing unhashed ever leaves the relay)
hashed_values = hashes


def user_data(event: OutboundEvent) -> dict[str, Any]:
    """The ``user_data`` object: hashed contact details, raw ids, client IP and user agent."""
    data: dict[str, Any] = {}
    for key in p.USER_DATA_KEYS:  # always sent as a list (Meta accepts arrays)
        values = hashed_values(event.hashed.get(key, ()))
        if values:
            data[key] = values
    for source, combined in FALLBACK_USER_KEYS.items():
        values = hashed_values(event.hashed.get(source, ()))
        if values and combined not in data:
            data[source] = values
    if event.ip:
        data["client_ip_address"] = event.ip
    if event.user_agent:
        data["client_user_agent"] = event.user_agent
    for key in RAW_USER_KEYS:
        value = event.ids.get(key)
        if value:
            data[key] = value
    return data


def _content(item: Mapping[str, Any]) -> dict[str, Any]:
    """One ``contents`` element: ``{id, quantity, item_price, delivery_category}``."""
    out: dict[str, Any] = {}
    if item.get("id") is not None:
        out["id"] = str(item["id"])
    if item.get("quantity") is not None:
        out["quantity"] = item["quantity"]
    price = item.get("item_price", item.get("price"))
    if price is not None:
        out["item_price"] = price
    if item.get("delivery_category"):
        out["delivery_category"] = item["delivery_category"]
    return out


def custom_data(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The ``custom_data`` object: standard keys first, then the event's custom properties."""
    data: dict[str, Any] = {}
    contents = [_content(c) for c in custom.get("contents") or () if isinstance(c, Mapping)]
    contents = [c for c in contents if c]
    content_ids = custom.get("content_ids")
    if isinstance(content_ids, str | int):
        content_ids = [content_ids]
    if content_ids is None and contents:
        content_ids = [c["id"] for c in contents if "id" in c] or None
    standard: dict[str, Any] = {
        **{k: custom.get(k) for k in STANDARD_CUSTOM_KEYS},
        "contents": contents or None,
        "content_ids": [str(i) for i in content_ids] if content_ids is not None else None,
    }
    for key in STANDARD_CUSTOM_KEYS:
        if standard[key] is not None:
            data[key] = standard[key]
    if "order_id" in data:
        data["order_id"] = str(data["order_id"])
    for key, value in custom.items():
        if key not in data and key not in STANDARD_CUSTOM_KEYS and value is not None:
            data[key] = value
    return data


def processing_options(event: OutboundEvent) -> dict[str, Any]:
    """Limited Data Use fields: ``["LDU"]`` with its geography, or ``[]`` (LDU not wanted)."""
    if event.consent.decision == "limited" and event.consent.mode == "ldu":
        country, state = event.consent.ldu or (0, 0)
        return {
            "data_processing_options": ["LDU"],
            "data_processing_options_country": country,
            "data_processing_options_state": state,
        }
    return {"data_processing_options": []}


def server_event(
    event: OutboundEvent, event_name: str, *, now: float, user: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One ``data[]`` element for ``event``, sent under ``event_name`` (``user``: its :func:`user_data`,
    when already built)."""
    out: dict[str, Any] = {
        "event_name": event_name,
        # a timestamp a little ahead of our clock is skew, not a future event: Meta refuses those
        "event_time": min(int(event.event_time), int(now)),
        "event_id": event.event_id,
        "action_source": event.action_source,
    }
    if event.event_source_url:
        out["event_source_url"] = event.event_source_url
    if event.referrer_url:
        out["referrer_url"] = event.referrer_url
    out["opt_out"] = bool(event.opt_out)
    out["user_data"] = user_data(event) if user is None else user
    custom = custom_data(event.custom)
    if custom:
        out["custom_data"] = custom
    out.update(processing_options(event))
    return out


def refusal(event: OutboundEvent, *, now: float) -> str | None:
    """Why Meta would refuse ``event`` on its own (and so reject its whole batch), or None."""
    max_age = MAX_AGE_PHYSICAL_STORE_SECONDS if event.action_source == "physical_store" else MAX_AGE_SECONDS
    if now - event.event_time > max_age:
        days = max_age // 86400
        return f"event older than {days} days; Meta accepts events up to {days} days old"
    if event.event_time - now > FUTURE_SKEW_SECONDS:
        return "event_time is in the future; Meta refuses events with a future timestamp"
    if event.action_source not in ACTION_SOURCES:
        accepted = ", ".join(sorted(ACTION_SOURCES))
        return f"action_source {event.action_source!r} is not one Meta accepts: {accepted}"
    if event.action_source == "website" and not event.event_source_url:
        return "event_source_url is required by Meta for website events"
    if event.action_source == "website" and not event.user_agent:
        return "client_user_agent is required by Meta for website events (no user agent on the event)"
    return None


__all__ = [
    "ACTION_SOURCES",
    "MAX_AGE_SECONDS",
    "custom_data",
    "hashed_values",
    "is_hash",
    "processing_options",
    "refusal",
    "server_event",
    "user_data",
]
