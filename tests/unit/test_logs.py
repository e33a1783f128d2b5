"""Structured logs carry the ids they are given and never a credential or a contact detail."""

from __future__ import annotations

import logging
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
