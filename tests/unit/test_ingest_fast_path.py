"""The ingest hot path's shortcuts give exactly what the general path gives: the single scan of a
plain body (no per-field character checks), the row tuples of the group commit, the redaction skip."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from relay.events import EventError, parse_event
from relay.redact import redact_value
from relay.settings import StorageSettings
from relay.storage.db import Database
from relay.storage.lease import _INSERT_ATTEMPTS, AttemptValues, DeliveryValues, attempt_row, delivery_values
from relay.storage.outbox import (
    _INSERT_DELIVERIES,
    _INSERT_EVENTS,
    EventValues,
    NewDelivery,
    NewEvent,
    delivery_row,
    event_row,
)
from relay.storage.records import Completion
from relay.text import forbidden_character, plain_json
from relay.types import AttemptOutcome, DeliveryStatus

EVENT: dict[str, Any] = {
    "event_name": "Purchase",
    "event_id": "order-1",
    "event_source_url": "https://shop.example/thanks?x=1",
    "user": {"email": "Jane@Example.com", "external_id": ["u-1"], "fbp": "fb.1.2.3"},
    "custom": {
        "value": 19.9,
        "currency": "eur",
        "contents": [{"id": "sku", "quantity": 2}],
        "note": "é ü 漢",
    },
    "consent": {"tcf": "CQ", "gdpr_applies": True, "gcm": {"ad_storage": "granted"}},
}


def test_no_code_point_a_field_refuses_passes_the_body_scan() -> None:
    """Every code point, as any JSON encoder may write it (escaped or raw UTF-8): a body the scan
    calls plain holds no character the per-field checks would refuse."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        refused = (
            forbidden_character(char) is not None or forbidden_character(char, free_text=True) is not None
        )
        if not refused:
            continue
        for body in (
            orjson.dumps(char) if not 0xD800 <= code <= 0xDFFF else b'"\\ud800"',
            json.dumps(char).encode(),
        ):
            assert not plain_json(body), hex(code)
        if not 0xD800 <= code <= 0xDFFF:
            assert not plain_json(json.dumps(char, ensure_ascii=False).encode()), hex(code)


@pytest.mark.parametrize(
    "body, plain",
    [
        (b'{"event_name":"A"}', True),
        ('{"event_name":"Achat é € 漢 \U0001f600"}'.encode(), True),
        (b'{"event_name":"A\\n"}', False),
        (b'{"event_name":"A\\u0041"}', False),  # any escape: the scan does not decode them
        (b'{"event_name":"A\x7f"}', False),
        ('{"event_name":"A\x85"}'.encode(), False),
        ('{"event_name":"A\u2028"}'.encode(), False),
    ],
)
def test_the_body_scan(body: bytes, plain: bool) -> None:
    assert plain_json(body) is plain


def test_a_plain_event_validates_as_the_general_path_does() -> None:
    body = orjson.dumps(EVENT)
    assert plain_json(body)
    assert parse_event(orjson.loads(body), plain=True) == parse_event(orjson.loads(body))


@pytest.mark.parametrize(
    "event",
    [
        {"event_name": "A", "custom": {"n": 10**30}},
        {"event_name": "A", "custom": {"k" * 300: 1}},
        {"event_name": "A", "custom": {"contents": [{"quantity": 1}]}},
        {"event_name": "A", "custom": {"x": [1, {"y": [float("nan")]}]}},
        {"event_name": "A", "custom": {"jane@example.com": {"deep": [1, []]}}, "user": {"phone": 5}},
        {"event_name": "A", "colour": "red"},
    ],
)
def test_errors_read_the_same_on_both_paths(event: dict[str, Any]) -> None:
    with pytest.raises(EventError) as general:
        parse_event(event)
    with pytest.raises(EventError) as plain:
        parse_event(event, plain=True)
    assert str(plain.value) == str(general.value)
    assert "jane@example.com" not in str(general.value)


def test_event_row_is_the_event_values_in_column_order() -> None:
    ev = NewEvent(
        event_id="e1", event_name="Purchase", event_time=1, received_at=2.5, action_source="website",
        source="collect", event_source_url="https://a/", referrer_url="https://b/", opt_out=True,
        hashed={"em": ["h"]}, ids={"fbp": "fb.1"}, ip="192.0.2.1", user_agent="UA",
        custom={"value": 1.5}, consent={"region": "eu"},
    )  # fmt: skip
    encoded = {"hashed", "ids", "custom", "consent"}
    values = EventValues(
        **{
            f.name: orjson.dumps(getattr(ev, f.name)).decode() if f.name in encoded else getattr(ev, f.name)
            for f in dataclasses.fields(EventValues)
            if f.name != "pii_purged"
        }
    )
    assert event_row(ev) == _INSERT_EVENTS.values(values)


@pytest.mark.parametrize(
    "delivery",
    [
        NewDelivery("meta", "pending", "allow", "tcf", "full", (1, 1000)),
        NewDelivery("x", "skipped", "deny", "gpc", last_error="consent: gpc"),
    ],
)
def test_delivery_row_is_the_delivery_values_in_column_order(delivery: NewDelivery) -> None:
    assert [f.name for f in dataclasses.fields(DeliveryValues)] == list(_INSERT_DELIVERIES.columns)
    assert delivery_row(7, delivery, 3.5) == _INSERT_DELIVERIES.values(delivery_values(7, delivery, 3.5))


@pytest.mark.parametrize(
    "completion",
    [
        Completion(
            delivery_id=3, status=DeliveryStatus.DELIVERED, outcome=AttemptOutcome.DELIVERED, status_code=200,
            response='{"events_received":1}', latency_ms=12.5, request="POST https://graph/ {}",
        ),
        Completion(
            delivery_id=4, status=DeliveryStatus.SKIPPED, outcome=AttemptOutcome.SKIPPED,
            last_error="consent: gpc", attempts_delta=-1,
        ),
    ],
)  # fmt: skip
def test_attempt_row_is_the_attempt_values_in_column_order(completion: Completion) -> None:
    values = AttemptValues(
        delivery_id=completion.delivery_id,
        at=9.5,
        outcome=completion.outcome.value,
        status_code=completion.status_code,
        response=completion.response if completion.response is not None else completion.last_error,
        latency_ms=completion.latency_ms,
        request=completion.request,
    )
    row = attempt_row(completion, 9.5)
    assert row == _INSERT_ATTEMPTS.values(values)
    assert all(type(v) in (int, float, str, type(None)) for v in row)  # plain values, no enum for the driver


def test_a_delivery_status_outside_the_enum_is_refused() -> None:
    with pytest.raises(ValueError):
        delivery_row(7, NewDelivery("meta", "sent!", "allow", "tcf"), 3.5)


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"a": ["x", {"b": "y"}]}, {"a": ["x", {"b": "y"}]}),
        (
            {"note": "from jane@example.com", "k": [1, "a@b.co"]},
            {"note": "from [email]", "k": [1, "[email]"]},
        ),
        ({"jane@example.com": 1}, {"[email]": 1}),
        ({"n": 10**30, "e": "a@b.co"}, {"n": 10**30, "e": "[email]"}),  # not encodable: walked all the same
    ],
)
def test_redaction_skips_only_values_without_an_at_sign(value: Any, expected: Any) -> None:
    assert redact_value(value) == expected


@pytest.mark.parametrize("synchronous, expected", [("full", 2), ("normal", 1)])
def test_storage_synchronous_is_full_unless_opted_out(
    tmp_path: Path, synchronous: str, expected: int
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'relay.db'}", synchronous=synchronous)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == expected
    finally:
        db.close()


def test_the_default_storage_setting_is_durable() -> None:
    assert StorageSettings().synchronous == "full"
    with pytest.raises(ValueError):
        StorageSettings(synchronous="off")  # type: ignore[arg-type]
