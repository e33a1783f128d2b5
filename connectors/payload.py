"""Pieces shared by the JSON connectors (TikTok, Snapchat, Pinterest, Reddit): reading an event's
hashes, ids and ``custom`` data defensively, and the words of a platform's error answer.

Everything here is pure, so payloads stay comparable with golden ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import clip
from connectors.hashes import hashes as usable_hashes
from connectors.http import MAX_MESSAGE, classify_status, json_body
from relay.exceptions import DeliveryError, PermanentDeliveryError
from relay.types import OutboundEvent

_CURRENCY = re.compile(r"[A-Z]{3}")
#: the hashed ``user_data`` keys as Meta names them (Snap, Pinterest follow), stored under the same names
USER_DATA_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")


def hashes(event: OutboundEvent, key: str) -> list[str]:
    """Distinct SHA-256 hex digests stored under ``key`` (:func:`connectors.hashes.hashes`, without a Meta
    parameter-builder appendix); anything else is dropped, so nothing unhashed reaches a platform."""
    return usable_hashes(event.hashed.get(key, ()), appendix=False)


def raw_id(event: OutboundEvent, key: str) -> str | None:
    """A device or click id as captured, trimmed; None when absent."""
    value = (event.ids.get(key) or "").strip()
    return value or None


def text(value: Any) -> str | None:
    """``value`` as non-empty text; None for nothing, booleans and containers."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    result = str(value).strip()
    return result or None


def number(value: Any) -> float | int | None:
    """A finite number from a number or numeric text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def strict_value(custom: Mapping[str, Any]) -> float | None:
    """``custom.value`` as a finite number, None when absent; raises :class:`ValueError` when it is there but
    not a number (the event then fails alone instead of being sent without its value)."""
    value = custom.get("value")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"custom.value must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except ValueError:
        raise ValueError(f"custom.value {value!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueError("custom.value is not a finite number")
    return result


def count(value: Any) -> int | None:
    """A whole number of at least 1, else None."""
    result = number(value)
    return int(result) if result is not None and result >= 1 and result == int(result) else None


def currency(value: Any) -> str | None:
    """An ISO 4217 code, upper case; None when ``value`` is not one."""
    code = text(value)
    return code.upper() if code and _CURRENCY.fullmatch(code.upper()) else None


def decimal_text(value: Any) -> str | None:
    """A number as the decimal string some platforms want (``"42.5"``)."""
    result = number(value)
    return None if result is None else str(result)


@dataclass(frozen=True, slots=True)
class Item:
    """One product of ``custom.contents`` (or ``custom.content_ids``), read defensively."""

    id: str | None = None
    name: str | None = None
    category: str | None = None
    brand: str | None = None
    price: float | int | None = None
    quantity: int | None = None


def items(custom: Mapping[str, Any]) -> list[Item]:
    """The event's products. Malformed product data fails the event (alone) rather than being sent
    without it, as for Meta and X."""
    contents = custom.get("contents")
    if contents is not None and not isinstance(contents, list):
        raise TypeError(f"custom.contents must be a list, not {type(contents).__name__}")
    if contents:
        found = [_item(c) for c in contents if isinstance(c, Mapping)]
        return [i for i in found if i != Item()]
    ids = custom.get("content_ids")
    if isinstance(ids, list):
        return [Item(id=t) for v in ids if (t := text(v))]
    return []


def _item(content: Mapping[str, Any]) -> Item:
    return Item(
        id=text(content.get("id")),
        name=text(content.get("name")),
        category=text(content.get("category")),
        brand=text(content.get("brand")),
        price=number(content.get("price", content.get("item_price"))),
        quantity=count(content.get("quantity")),
    )


#: how a platform writes a product: its key → an :class:`Item` attribute, or a function of the item
ProductFields = Mapping[str, str | Callable[[Item], Any]]


def product_list(products: list[Item], fields: ProductFields) -> list[dict[str, Any]]:
    """Each product as a platform writes it: ``fields`` maps the platform's key (in the platform's order) to
    an :class:`Item` attribute, or to a function of the item; empty values are left out."""
    return [
        compact({key: getattr(i, f) if isinstance(f, str) else f(i) for key, f in fields.items()})
        for i in products
    ]


def total_items(custom: Mapping[str, Any], products: list[Item]) -> int | None:
    """``custom.num_items``, else the sum of the products' quantities."""
    return count(custom.get("num_items")) or count(sum(i.quantity or 0 for i in products))


def standard_custom(
    custom: Mapping[str, Any], products: list[Item], value: Any, contents: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``custom_data`` keys the platforms that follow Meta's names share (Snap, Pinterest): ``value``
    and ``contents`` in each platform's own form, the rest read the same way; empty entries left out."""
    return compact(
        {
            "currency": currency(custom.get("currency")),
            "value": value,
            "content_ids": [i.id for i in products if i.id],
            "contents": [c for c in contents if c],
            "num_items": total_items(custom, products),
            "order_id": text(custom.get("order_id")),
            "search_string": text(custom.get("search_string")),
            "content_name": text(custom.get("content_name")),
            "content_category": text(custom.get("content_category")),
        }
    )


def compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without its None values and empty lists or objects."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}


def event_name(
    overrides: Mapping[str, str | None], standard: Mapping[str, str], name: str, default: str | None
) -> str | None:
    """The platform's name for ``name``: the connector's ``events`` override, else the standard
    mapping, else ``default`` (None = not sent)."""
    if name in overrides:
        return overrides[name]
    return standard.get(name, default)


def detail_of(response: httpx.Response) -> str:
    """The platform's own words in an error answer (``message``, ``reason``, ``error.message``),
    else the start of its body."""
    body = json_body(response)
    if isinstance(body, dict):
        inner = body.get("error")
        for found in (
            body.get("message"),
            body.get("reason"),
            inner.get("message") if isinstance(inner, dict) else inner,
        ):
            if isinstance(found, str) and found:
                return found
    return response.text[:200]


def status_error(
    response: httpx.Response, platform: str, detail: str, mask: Callable[[str], str]
) -> DeliveryError:
    """The error a failed answer means when the platform's own code says nothing more: its status, read by
    :func:`connectors.http.classify_status`."""
    status = response.status_code
    message = clip(mask(f"{platform} answered {status}: {detail or response.reason_phrase}"), MAX_MESSAGE)
    found = classify_status(status, message, response.headers)
    return found or PermanentDeliveryError(message, status_code=status)  # a failure with a 2xx status


__all__ = [
    "USER_DATA_KEYS",
    "Item",
    "ProductFields",
    "compact",
    "count",
    "currency",
    "decimal_text",
    "detail_of",
    "event_name",
    "hashes",
    "items",
    "number",
    "product_list",
    "raw_id",
    "status_error",
    "strict_value",
    "text",
    "total_items",
]
