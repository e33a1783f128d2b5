"""The worker's hot path reads a claimed event as a row (:func:`claimed_row`): it must map every row
exactly as the general path (:func:`claimed`, a dict per event) does, and a row it cannot read must fail
alone with the general path's reason, never break the claim of the others."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from relay.engagement import EVENT as ENGAGEMENT
from relay.engagement import PAGE_EVENT_IDS
from relay.storage.records import CLAIM_COLUMNS, claimed, claimed_row
from relay.storage.tables import EventRow
from relay.types import ConsentVerdict

ALLOW = ConsentVerdict("allow", "allowed")
STRIP = ConsentVerdict("limited", "gcm", "strip")
EM = "a" * 64


def stored(**change: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": 7, "event_id": "e-1", "event_name": "Purchase", "event_time": 1_700_000_000,
        "received_at": 1_700_000_001.5, "action_source": "website", "event_source_url": "https://shop/",
        "referrer_url": None, "opt_out": 0, "hashed": {"em": [EM]}, "ids": {"fbp": "fb.1.1.2"},
        "ip": "203.0.113.9", "user_agent": "UA", "custom": {"value": 9.5, "currency": "EUR"},
    }  # fmt: skip
    event.update(change)
    return event


def row(event: dict[str, Any], *, encoded: bool = True) -> tuple[Any, ...]:
    """As SQLite gives it (JSON columns as text) or, ``encoded=False``, as psycopg does (decoded)."""
    json_columns = ("hashed", "ids", "custom")
    return tuple(
        orjson.dumps(event[c]).decode() if encoded and c in json_columns else event[c] for c in CLAIM_COLUMNS
    )


def test_the_columns_are_columns_of_events() -> None:
    assert set(CLAIM_COLUMNS) <= set(EventRow.__table__.c.keys())  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoded", [True, False])
@pytest.mark.parametrize(
    "event, verdict",
    [
        (stored(), ALLOW),
        (stored(), STRIP),
        (stored(opt_out=1, hashed={}, ids={}, custom={}), ALLOW),
        (stored(hashed=None, ids=None, custom=None), ALLOW),
        (stored(event_name=ENGAGEMENT, custom={"engaged_seconds": 31, PAGE_EVENT_IDS: ["a", "b"]}), ALLOW),
    ],
)
def test_a_row_maps_as_the_general_path_maps_its_dict(
    event: dict[str, Any], verdict: ConsentVerdict, encoded: bool
) -> None:
    fast = claimed_row(3, "meta", 1, 5.0, row(event, encoded=encoded), verdict)
    general = claimed(3, "meta", 1, 5.0, event, verdict)
    assert fast == general and fast.unreadable is None
    assert PAGE_EVENT_IDS not in fast.event.custom
    if verdict.mode == "strip":
        assert fast.event.hashed == {}


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"hashed": "{not json"}, "cannot map event: ValueError"),
        ({"custom": "[5]"}, "cannot map event: TypeError"),
        ({"ids": '"text"'}, "cannot map event: ValueError"),
        ({"event_id": None, "hashed": "{"}, "cannot map event: ValueError"),
    ],
)
def test_a_row_that_cannot_be_read_fails_alone_with_the_general_reason(
    bad: dict[str, Any], reason: str
) -> None:
    values = dict(zip(CLAIM_COLUMNS, row(stored()), strict=True))
    values.update(bad)
    result = claimed_row(3, "meta", 2, 5.0, tuple(values[c] for c in CLAIM_COLUMNS), ALLOW)
    assert result.unreadable is not None and result.unreadable.startswith(reason)
    assert (result.delivery_id, result.connector, result.attempts, result.event.consent) == (
        3,
        "meta",
        2,
        ALLOW,
    )


def test_a_short_row_fails_alone() -> None:
    result = claimed_row(3, "meta", 1, 5.0, row(stored())[:5], ALLOW)
    assert result.unreadable is not None and result.unreadable.startswith("cannot map event: KeyError")
    assert result.event.event_id == "e-1"
