"""Phone numbers as digits with the country code, the form Meta hashes (``+`` is added for X and TikTok)."""

from __future__ import annotations

import re
import unicodedata

from relay import geo
from relay.contact import normalize_country

_NON_DIGITS = re.compile(r"[^0-9]+")
_DIGIT_OR_PLUS = re.compile(r"[0-9+]")
_NANP_WRITTEN = re.compile(r"\(\s*[2-9]\d\d\s*\)\s*[2-9]\d\d\s*[-.]?\s*\d{4}")


def normalize_phone(v: str, country: str | None = None) -> str | None:
    """Phone: digits only with the country code (``(650)555-1212`` with ``US`` → ``16505551212``).

    ``+`` or ``00`` (or the country's own international prefix) marks an international number; otherwise the
    trunk prefix is dropped and the calling code of ``country`` is prepended unless the digits already start
    with it at a plausible length. Without a country the digits are kept, leading zeros stripped, except that
    the North American way of writing, ``(650) 555-1212``, implies +1 (Meta's docs example).
    """
    value = v if v.isascii() else _ascii_digits(v)
    first = _DIGIT_OR_PLUS.search(value)
    digits = _NON_DIGITS.sub("", value)
    if first is None or not digits:
        return None
    if first.group() == "+":
        number = geo.international_number(digits.lstrip("0"))
    else:
        code = normalize_country(country) if country else None
        if code is None and _NANP_WRITTEN.fullmatch(value.strip()):
            code = "us"
        number = geo.with_calling_code(digits, code)
    return number if 7 <= len(number) <= 15 else None


def _ascii_digits(value: str) -> str:
    """Full-width forms and the decimal digits of other scripts (Arabic-Indic ...) as ASCII."""
    value = unicodedata.normalize("NFKC", value)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in value)


__all__ = ["normalize_phone"]
