"""Redaction of e-mail addresses from what is stored and forwarded as is: page URLs and ``custom`` values.

Meta requires that URLs carry no personal data, and contact details are only ever stored hashed. An
address found in a URL (its path, query or fragment, also percent-encoded) or in a ``custom`` string is
replaced by ``[email]``; the user information of a URL (``https://user:password@host/``) is removed.

Linear time, whatever the input: an address can only start where a run of address characters starts
(the look-behind), so each run of characters is scanned at most twice, and the character classes of the
parts are disjoint from their separators, so nothing backtracks across them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import orjson

REDACTED = "[email]"
_LOCAL = r"[\w.+-]"
_EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+@[\w-]+(?:\.[\w-]+)+")
#: what stays unescaped when a redacted part of a URL is written back ("/", "=", "&", "+" are escaped)
_SAFE = ":@!$'()*,;[]~"


def redact_text(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[email]``."""
    return _EMAIL.sub(REDACTED, text) if "@" in text else text


def redact_url(url: str) -> str:
    """``url`` without e-mail addresses nor user information; unchanged when it has neither."""
    if not _has_address(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL (say, an unclosed IPv6 bracket): redact it as one piece
        return _redacted(url, safe=_SAFE + "/?#&=")
    netloc = parts.netloc.rpartition("@")[2]
    path = "/".join(_redacted(segment) for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, _params(parts.query), _params(parts.fragment)))


def _params(text: str) -> str:
    """A query (or fragment) with the keys and values holding an address redacted, the rest kept byte
    for byte."""
    if not _has_address(text):
        return text
    return "&".join("=".join(_redacted(p) for p in pair.split("=", 1)) for pair in text.split("&"))


def _redacted(part: str, safe: str = _SAFE) -> str:
    """One percent-encoded piece of a URL, redacted; untouched unless it holds an address."""
    if not _has_address(part):
        return part
    decoded = unquote(part)
    redacted = redact_text(decoded)
    return part if redacted == decoded else quote(redacted, safe=safe)


def _has_address(text: str) -> bool:
    return "@" in text or "%40" in text.lower()


def redact_value(value: Any) -> Any:
    """A JSON value with the addresses in its strings (and its objects' keys) redacted; the value
    itself when no string of it holds an ``@`` (one encoding pass tells, not a walk of every string)."""
    if isinstance(value, dict | list):
        try:
            if b"@" not in orjson.dumps(value):
                return value
        except TypeError:  # not encodable as JSON (a key that is not a string...): walk it
            pass
    return _redact_value(value)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


__all__ = ["REDACTED", "redact_text", "redact_url", "redact_value"]
