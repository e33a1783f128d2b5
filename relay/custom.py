"""Validation of an event's ``custom`` object (CONTRACT §4.1).

The standard keys are checked by type, so that every accepted event maps to each platform's payload
without surprises: ``value`` and ``predicted_ltv`` numbers, ``currency`` a three-letter code, the text keys
strings (a number is written as a string), ``num_items`` a non-negative integer, ``content_ids`` a list of
strings and ``contents`` a list of objects with an ``id``. Other keys are kept and forwarded, within the
limits of :mod:`relay.limits`: keys per object, nesting depth, string length, list length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from relay import limits
from relay.engagement import CUSTOM_CHECKS as ENGAGEMENT_CHECKS
from relay.redact import redact_text
from relay.text import check_text, forbidden_character, is_finite_number, parse_number

TEXT_KEYS = (
    "order_id",
    "content_type",
    "content_name",
    "content_category",
    "search_string",
    "status",
    "delivery_category",
)
MONEY_KEYS = ("value", "predicted_ltv")
#: the keys of a ``contents`` item that platforms read as text (X also reads type, category, group_id)
CONTENT_TEXT_KEYS = ("id", "name", "delivery_category", "type", "category", "group_id")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def validate_custom(custom: dict[str, Any], *, plain: bool = False) -> dict[str, Any]:
    """The ``custom`` object with its standard keys in their canonical types; :class:`ValueError` naming
    the key (``custom.contents[2].quantity: must be a non-negative integer``) when a value is not
    acceptable. ``plain``: its text is known to hold no refused character (not scanned again)."""
    try:
        return _custom(custom, plain)
    except ValueError as exc:
        raise _placed("custom", exc) from None


def _custom(custom: dict[str, Any], plain: bool) -> dict[str, Any]:
    out = _object(custom, 1, plain)
    for key, check in _STANDARD.items():
        if out.get(key) is not None:
            out[key] = _at(f".{key}", check, out[key])
    return out


def _at(path: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise _placed(path, exc) from None


def _placed(path: str, exc: ValueError) -> ValueError:
    """``exc`` with the place it happened in front: ``.key: reason``, ``[2].key: reason``."""
    message = str(exc)
    sep = "" if message.startswith(("[", ".")) else ": "
    return ValueError(f"{path}{sep}{message}")


def _value(value: Any, depth: int, plain: bool = False) -> Any:
    """A JSON value within the limits, ``depth`` being the level of the object or list holding it."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > limits.MAX_CUSTOM_STRING:
            raise ValueError(f"longer than {limits.MAX_CUSTOM_STRING} characters")
        return value if plain else check_text(value, free_text=True)
    if isinstance(value, int):
        if not -limits.MAX_CUSTOM_INT - 1 <= value <= limits.MAX_CUSTOM_INT:
            raise ValueError("integer out of the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if isinstance(value, dict | list) and depth >= limits.MAX_CUSTOM_DEPTH:
        raise ValueError(f"nested deeper than {limits.MAX_CUSTOM_DEPTH} levels")
    if isinstance(value, dict):
        return _object(value, depth + 1, plain)
    if isinstance(value, list):
        return _list(value, depth + 1, plain)
    raise ValueError("not a JSON value")


def _object(value: dict[Any, Any], depth: int, plain: bool) -> dict[str, Any]:
    if len(value) > limits.MAX_CUSTOM_KEYS:
        raise ValueError(f"more than {limits.MAX_CUSTOM_KEYS} keys")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError("keys must be strings")
        if len(key) > limits.MAX_CUSTOM_KEY:
            raise ValueError(f"a key is longer than {limits.MAX_CUSTOM_KEY} characters")
        problem = None if plain else forbidden_character(key)
        if problem:
            raise ValueError(f"a key {problem}")
        try:
            out[key] = _value(item, depth, plain)
        except ValueError as exc:
            # the key is echoed in an error message: short, and without an address in it
            raise _placed(f".{redact_text(key[:40])}", exc) from None
    return out


def _list(value: list[Any], depth: int, plain: bool) -> list[Any]:
    if len(value) > limits.MAX_CUSTOM_LIST:
        raise ValueError(f"more than {limits.MAX_CUSTOM_LIST} items")
    out: list[Any] = []
    for i, item in enumerate(value):
        try:
            out.append(_value(item, depth, plain))
        except ValueError as exc:
            raise _placed(f"[{i}]", exc) from None
    return out


def money(value: Any) -> float:
    """A finite number (a numeric string in ASCII digits is read as one)."""
    if is_finite_number(value):
        return float(value)
    number = parse_number(value) if isinstance(value, str) else None
    if number is None:
        raise ValueError("must be a number")
    return number


def text(value: Any) -> str:
    """A string; an integer or a finite number is written as one (``1001``, ``12.5``)."""
    if isinstance(value, str):
        return value
    if is_finite_number(value):
        return str(int(value)) if isinstance(value, int) or value.is_integer() else repr(value)
    raise ValueError("must be a string")


def currency(value: Any) -> str:
    """An ISO 4217 code, upper case: ``eur`` → ``EUR``."""
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip()):
        raise ValueError("must be a three-letter currency code (ISO 4217)")
    return value.strip().upper()


def count(value: Any) -> int:
    """A non-negative integer (``2.0`` and ``"2"`` read as 2)."""
    number = parse_number(value) if isinstance(value, str) else value
    if not is_finite_number(number) or not 0 <= number <= limits.MAX_COUNT or number != int(number):
        raise ValueError("must be a non-negative integer")
    return int(number)


def content_ids(value: Any) -> list[str]:
    """A list of ids as strings; one id alone is a list of one."""
    if isinstance(value, dict):
        raise ValueError("must be a list of strings")
    items = value if isinstance(value, list) else [value]
    return [_at(f"[{i}]", text, item) for i, item in enumerate(items)]


def contents(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("must be a list of objects")
    return [_at(f"[{i}]", _content, item) for i, item in enumerate(value)]


def _content(item: Any) -> dict[str, Any]:
    """One ``contents`` item: ``id`` required; ``quantity`` an integer; ``price`` / ``item_price``
    numbers; ``name``, ``delivery_category`` (and X's ``type``, ``category``, ``group_id``) strings."""
    if not isinstance(item, dict):
        raise ValueError("must be an object")
    if item.get("id") is None:
        raise ValueError(".id: required")
    out = dict(item)
    for key, check in (*((k, text) for k in CONTENT_TEXT_KEYS), *_CONTENT_NUMBERS):
        if out.get(key) is not None:
            out[key] = _at(f".{key}", check, out[key])
    return out


_CONTENT_NUMBERS = (("quantity", count), ("price", money), ("item_price", money))
_STANDARD: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(MONEY_KEYS, money),
    "currency": currency,
    **dict.fromkeys(TEXT_KEYS, text),
    "num_items": count,
    "content_ids": content_ids,
    "contents": contents,
    **ENGAGEMENT_CHECKS,  # engaged_seconds, scroll_depth, page_event_ids (relay.engagement)
}

__all__ = ["validate_custom"]
