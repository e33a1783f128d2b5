"""Structured logs carry the ids they are given and never a credential or a contact detail."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from relay.logs import KeyValueFormatter

pytestmark = pytest.mark.unit


def test_key_values_and_masking() -> None:
    formatter = KeyValueFormatter()
    try:
        raise RuntimeError("GET https://graph.facebook.com/v26.0/1/events?access_token=EAAB-secret failed")
    except RuntimeError:
        record = logging.LogRecord(
            "relay.delivery", logging.ERROR, __file__, 1, "failed for %s", ("jane@x.com",), None
        )
        record.exc_info = sys.exc_info()
    record.connector = "meta"
    record.delivery_id = 42
    line = formatter.format(record)
    assert "connector=meta" in line and "delivery_id=42" in line
    assert "EAAB-secret" not in line and "access_token=***" in line
    assert "jane@x.com" not in line and "[email]" in line


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("relay.ingest", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize(
    "value",
    [
        "x\n2026-01-01 00:00:00,000 error relay.app: forged",
        "x\r\n2026-01-01 error relay.app: forged",
        "a\x00b\x1b[31mred\x7f\x85\u2028\u2029",
        "tab\there\x0bvt\x0cff\x1cfs",
    ],
)
def test_a_record_is_one_line_whatever_the_values(value: str) -> None:
    line = KeyValueFormatter().format(_record("event %s accepted", value, event_id=value, connector="meta"))
    assert len(line.splitlines()) == 1 and "\n" not in line and "\r" not in line
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in line)
    assert "connector=meta" in line


def test_escapes_are_visible_and_unambiguous() -> None:
    line = KeyValueFormatter().format(_record("id %s", "a\nb\x00c\\n", event_id="a\nb\x00c\\n"))
    assert "id a\\nb\\x00c\\\\n" in line
    assert 'event_id="a\\nb\\x00c\\\\n"' not in line  # no space, quote or =: left bare
    assert "event_id=a\\nb\\x00c\\\\n" in line


def _fields(line: str) -> dict[str, str]:
    """The key=value pairs of a line as a reader parses them (a quoted value may hold \\" and \\\\)."""
    pairs = re.findall(r'(?:^| )(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)', line.split(": ", 1)[1])
    return {key: value for key, value in pairs}


def test_values_cannot_forge_fields() -> None:
    line = KeyValueFormatter().format(
        _record("stored", event_id='x" connector="tiktok', connector="meta", note="a=b c")
    )
    assert _fields(line) == {
        "connector": "meta",
        "event_id": '"x\\" connector=\\"tiktok"',
        "note": '"a=b c"',
    }
    assert KeyValueFormatter().format(_record("m", reason="")).endswith('reason=""')


def test_the_timestamp_is_not_masked() -> None:
    line = KeyValueFormatter().format(_record("call +1 650 555 1212"))
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} info relay.ingest: call \[phone\]$", line), line


def test_a_traceback_cannot_start_a_record() -> None:
    formatter = KeyValueFormatter()
    try:
        raise ValueError("bad id x\n2026-01-01 00:00:00,000 info relay.app: forged\x00")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    first, *rest = formatter.format(record).split("\n")
    assert first.endswith("relay.ingest: failed")
    assert rest and all(line.startswith("  | ") for line in rest)
    assert any("forged\\x00" in line for line in rest)
    assert any(line.startswith("  | Traceback") for line in rest)


def test_fields_are_masked_by_their_name_and_ids_survive() -> None:
    line = KeyValueFormatter().format(
        _record(
            "POST /v26.0/1234567890/events?access_token=EAAB-x sent",
            email="jane@x.io",
            phone="4155550123",
            access_token="EAAB-tok",
            authorization="OAuth oauth_signature=abc",
            delivery_id=4155550123,
            event_id="order-4155550123",
        )
    )
    fields = _fields(line)
    assert fields["email"] == "[email]" and fields["phone"] == "[phone]"
    assert fields["access_token"] == "***" and fields["authorization"] == "***"
    # digits that are ids stay readable: the pixel id, a delivery id, an event id
    assert "/v26.0/1234567890/events?access_token=***" in line
    assert fields["delivery_id"] == "4155550123" and fields["event_id"] == "order-4155550123"
    assert "4155550123" not in line.replace("delivery_id=4155550123", "").replace("order-4155550123", "")
    assert "EAAB" not in line


def test_configured_secrets_are_masked_by_value_everywhere() -> None:
    formatter = KeyValueFormatter(secrets=["tok-abcdef123456"])
    try:
        raise RuntimeError("platform said: bad token tok-abcdef123456")
    except RuntimeError:
        record = _record("retry with tok-abcdef123456", note="tok-abcdef123456")
        record.exc_info = sys.exc_info()
    assert "tok-abcdef123456" not in formatter.format(record)
    assert formatter.format(record).count("***") >= 3
