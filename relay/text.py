"""What text and numbers an event may carry: no control characters, numbers in ASCII digits only.

Control characters forge log lines (a newline in an id), break the dedup key (which joins name and id
with U+001F) and cannot be stored at all by PostgreSQL (NUL); unpaired surrogates cannot be encoded as
UTF-8. Every check here is one linear scan.
"""

from __future__ import annotations

import math
import re
from typing import TypeGuard

#: C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, unpaired surrogates
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: the same, tab allowed: for the free text of ``custom`` values
_FORBIDDEN_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: in a JSON body's UTF-8 bytes beyond ASCII: a C1 control, U+2028, U+2029 or a surrogate (invalid
#: UTF-8: the parser refuses it anyway)
_NOT_PLAIN_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]|\xed[\xa0-\xbf]")
#: a decimal number written with ASCII digits (``str.isdigit`` and ``float`` also take ``²`` or ``٣``)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def forbidden_character(text: str, *, free_text: bool = False) -> str | None:
    """Why ``text`` cannot be accepted (``contains a control character (U+000A)``), or None."""
    found = (_FORBIDDEN_IN_FREE_TEXT if free_text else _FORBIDDEN).search(text)
    if found is None:
        return None
    char = found.group()
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains {kind} (U+{ord(char):04X})"


def plain_json(body: bytes) -> bool:
    """True when no string of the JSON document ``body`` can hold a character :func:`forbidden_character`
    refuses (one scan of the bytes): its text then needs no check field by field."""
    # a backslash starts every escape (``\\n``, ``\\u0000``); raw C0 controls cannot appear inside a
    # JSON string at all; DEL can
    if b"\\" in body or b"\x7f" in body:
        return False
    return body.isascii() or _NOT_PLAIN_UTF8.search(body) is None


def check_text(text: str, *, free_text: bool = False) -> str:
    """``text`` itself, or :class:`ValueError` saying which character it may not contain."""
    problem = forbidden_character(text, free_text=free_text)
    if problem:
        raise ValueError(problem)
    return text


def parse_number(text: str) -> float | None:
    """A finite number written in ASCII (``42``, ``-1.5``, ``1e3``), or None."""
    value = text.strip()
    if len(value) > 64 or not _NUMBER.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """True for an int or a finite float; never for a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


__all__ = ["check_text", "forbidden_character", "is_finite_number", "parse_number", "plain_json"]
