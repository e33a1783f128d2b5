"""Structured logs: ``key=value`` lines carrying event_id, connector and delivery_id, never secrets or PII.

One record is one line: control characters in the message and in every value are escaped (``\\n``,
``\\r``, ``\\t``, ``\\\\``, others ``\\xNN``), so a client-chosen value such as an ``event_id`` with a newline
cannot forge a record. A value with spaces, quotes or ``=`` is double-quoted. A traceback follows its
record on lines that each begin with ``"  | "``, escaped the same way: a record starts at column 0 with a
timestamp, and no traceback line can.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from relay.masking import mask_field, mask_text

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
#: C0, DEL, C1, the Unicode line and paragraph separators, and the backslash that starts an escape
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_BARE = re.compile(r'[^\s"=]+')
CONTINUATION = "  | "


def escape(text: str) -> str:
    """``text`` on one line, every control character visible as an escape."""
    return _UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class KeyValueFormatter(logging.Formatter):
    """One ``key=value`` line per record. Masking is structural: a field named like a secret or a
    contact detail (``access_token``, ``authorization``, ``email``, ``phone``...) is hidden whole, the
    configured secrets are hidden by value, and free text (the message, other values, tracebacks) has
    its credential parameters, e-mails and written phone numbers masked. The timestamp is never masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        base = f"{record.levelname.lower()} {record.name}: {self._text(record.getMessage())}"
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            base += " " + " ".join(f"{_quote(k)}={self._value(k, v)}" for k, v in sorted(extras.items()))
        if record.exc_info:
            base += _continuation(mask_text(self.formatException(record.exc_info), self.secrets))
        if record.stack_info:
            base += _continuation(mask_text(self.formatStack(record.stack_info), self.secrets))
        return f"{self.formatTime(record)} {base}"

    def _text(self, text: str) -> str:
        return escape(mask_text(text, self.secrets))

    def _value(self, key: str, value: Any) -> str:
        masked = mask_field(key, value if isinstance(value, dict | list | str) else str(value), self.secrets)
        return _quote(masked)


def _continuation(text: str) -> str:
    return "".join(f"\n{CONTINUATION}{escape(line)}" for line in text.splitlines())


def _quote(value: Any) -> str:
    text = escape(str(value))
    if _BARE.fullmatch(text):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log ``key=value`` lines to stderr; ``secrets`` (the config's credentials) are masked by value."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(secrets))
    root = logging.getLogger("relay")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
