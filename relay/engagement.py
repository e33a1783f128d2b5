"""Time on page and scroll depth: what ``pixel.js`` measures, how the relay checks and forwards it, and
the conditions an events-rule audience puts on it.

When its ``engagement`` option is on, the snippet sends one :data:`EVENT` per page view as the page is
left (hidden, closed, or a single-page-app navigation), with ``custom``:

- ``engaged_seconds``: seconds the page was visible while the visitor was active (input, scroll,
  pointer or key within the idle threshold), not wall-clock time;
- ``scroll_depth``: the deepest point of the page seen, in percent of its height;
- ``page_event_ids``: the ids of the events tracked during that page view, the page view's own first.

Its ``event_id`` is ``<page view's event_id>:engagement``, so a copy sent twice is stored once.
A connector receives these events only with ``send_engagement: true`` (otherwise they are skipped
with :func:`skip_reason`), and never the relay-internal ``page_event_ids``.

An events rule names an event and, optionally, conditions on these numbers:
``ViewContent with engaged_seconds >= 30 and scroll_depth >= 50``. An event meets them when its own
``custom`` does, or when the engagement of the page view it was tracked in does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.limits import MAX_EVENT_ID

EVENT = "PageEngagement"
ENGAGED_SECONDS = "engaged_seconds"
SCROLL_DEPTH = "scroll_depth"
PAGE_EVENT_IDS = "page_event_ids"
#: each numeric field with its bounds (inclusive) and what it is, for error messages
FIELDS: dict[str, tuple[float, float, str]] = {
    ENGAGED_SECONDS: (0, 86400, "a number of seconds from 0 to 86400"),
    SCROLL_DEPTH: (0, 100, "a percentage from 0 to 100"),
}
MAX_PAGE_EVENTS = 50

_WITH = re.compile(r"(?:^|\s+)with\s+", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_CONDITION = re.compile(r"([A-Za-z_]+)\s*(>=|<=|==|=|>|<)\s*(\S+)")
_NUMBER = re.compile(r"\d+(\.\d+)?")
#: what follows " with " when it starts conditions (else " with " is part of an event name)
_CONDITIONS_START = re.compile(r"(engaged_seconds|scroll_depth)\b|[A-Za-z_]+\s*[<>=]")


# -- the custom keys (relay.custom checks them like the other standard keys)


def _bounded(name: str) -> Any:
    low, high, what = FIELDS[name]

    def check(value: Any) -> int | float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not number or not low <= value <= high:
            raise ValueError(f"must be {what}")
        return int(value) if float(value).is_integer() else float(value)

    return check


def _page_event_ids(value: Any) -> list[str]:
    """A list of at most :data:`MAX_PAGE_EVENTS` event ids (strings)."""
    if not isinstance(value, list) or len(value) > MAX_PAGE_EVENTS:
        raise ValueError(f"must be a list of at most {MAX_PAGE_EVENTS} event ids")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_EVENT_ID:
            raise ValueError(f"must hold event ids (strings of 1 to {MAX_EVENT_ID} characters)")
    return value


CUSTOM_CHECKS = {
    ENGAGED_SECONDS: _bounded(ENGAGED_SECONDS),
    SCROLL_DEPTH: _bounded(SCROLL_DEPTH),
    PAGE_EVENT_IDS: _page_event_ids,
}


# -- connectors


def skip_reason(event_name: str, send_engagement: bool, connector: str) -> str | None:
    """Why ``connector`` does not receive this event: engagement events need ``send_engagement``."""
    if event_name == EVENT and not send_engagement:
        return f"engagement not sent to {connector} (send_engagement: false)"
    return None


def outbound_custom(event_name: str, custom: dict[str, Any]) -> dict[str, Any]:
    """``custom`` as platforms see it: an engagement event without its relay-internal links."""
    if event_name == EVENT:
        custom.pop(PAGE_EVENT_IDS, None)
    return custom


def kept(event_name: str, decisions: list[str]) -> bool:
    """Whether an engagement event no connector receives keeps its numbers and event ids (no
    identifier, no URL) for audience rules: when consent allowed it to some connector."""
    return event_name == EVENT and any(d != "deny" for d in decisions)


def only_engagement(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The engagement keys of ``custom``."""
    return {k: v for k, v in custom.items() if k in CUSTOM_CHECKS}


# -- rule conditions


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # >=, >, <=, <, = ("==" is read as "=")
    value: float


@dataclass(frozen=True)
class RuleTerm:
    """One ``include``/``exclude`` item: an event name and the conditions its engagement must meet."""

    event_name: str
    conditions: tuple[Condition, ...] = ()


def parse_term(text: str) -> RuleTerm:
    """``"ViewContent with engaged_seconds >= 30 and scroll_depth > 50"`` → a :class:`RuleTerm`;
    :class:`ValueError` saying what is wrong."""
    item = text.strip()
    split = next((m for m in _WITH.finditer(item) if _CONDITIONS_START.match(item, m.end())), None)
    name = (item[: split.start()] if split else item).strip()
    if not name:
        raise ValueError(f"{text!r}: an event name is missing")
    if split is None:  # a plain name, " with " in it or not ("Sign up with Google")
        return RuleTerm(name)
    conditions = tuple(_condition(c) for c in _AND.split(item[split.end() :].strip()))
    return RuleTerm(name, conditions)


def _condition(text: str) -> Condition:
    match = _CONDITION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r}: expected a condition such as 'engaged_seconds >= 30' (joined by 'and')")
    field, op, number = match.groups()
    if field not in FIELDS:
        raise ValueError(f"{text!r}: unknown field {field!r}; use {' or '.join(FIELDS)}")
    low, high, what = FIELDS[field]
    if not _NUMBER.fullmatch(number) or not low <= float(number) <= high:
        raise ValueError(f"{text!r}: {field} is compared with {what}, not {number!r}")
    return Condition(field, "=" if op == "==" else op, float(number))


__all__ = [
    "CUSTOM_CHECKS",
    "ENGAGED_SECONDS",
    "EVENT",
    "FIELDS",
    "PAGE_EVENT_IDS",
    "SCROLL_DEPTH",
    "Condition",
    "RuleTerm",
    "kept",
    "only_engagement",
    "outbound_custom",
    "parse_term",
    "skip_reason",
]
