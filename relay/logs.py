"""Structured logs: ``key=value`` lines carrying event_id, connector and delivery_id, never secrets or PII."""

from __future__ import annotations

import logging
import sys
from typing import Any

from relay.masking import mask_text

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record)} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            base += " " + " ".join(f"{k}={_quote(v)}" for k, v in sorted(extras.items()))
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        # last line of defence: no credential in a URL, no contact detail in an exception reaches the log
        return mask_text(base)


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text or not text else text


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger("relay")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
