"""Hashed identifiers as a platform receives them: only SHA-256 digests ever leave the relay.

Whether a value is a hash is decided by :func:`relay.normalize.is_hashed`, the relay's one test; here a
hash is put in the form platforms take (lower case, Meta's parameter-builder ``.appendix`` kept or cut)
and the hash of the empty string, which matches nobody, is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from relay.normalize import is_hashed

#: SHA-256 of "": a field that was empty before hashing; platforms must never receive it
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: a bare digest in lower case: the form every stored hash has, checked without stripping or case folding
_DIGEST = re.compile("[0-9a-f]{64}").fullmatch


def usable_hash(value: object, *, appendix: bool = True) -> str | None:
    """``value`` as sent: its digest in lower case (with its ``.appendix`` when ``appendix``), or None
    when it is not a SHA-256 hash or is the hash of nothing."""
    if not isinstance(value, str):
        return None
    if len(value) == 64 and _DIGEST(value) is not None:  # as the relay stores it: nothing to change
        return None if value == EMPTY_SHA256 else value
    if not is_hashed(value):
        return None
    value = value.strip()
    digest = value[:64].lower()
    if digest == EMPTY_SHA256:
        return None
    return digest + value[64:] if appendix else digest


# An audience sync checks a million members' cells, most of them the hashes of a few thousand values
# (genders, countries, cities, parts of dates): a hash already found usable as it is costs a set lookup.
_SEEN: set[str] = set()
_MAX_SEEN = 100_000


def _seen(value: str) -> None:
    if len(_SEEN) >= _MAX_SEEN:
        _SEEN.clear()
    _SEEN.add(value)


def _text(value: object) -> str:
    if not isinstance(value, str):  # not a malformed hash but broken stored data: the item fails alone
        raise TypeError(f"a hashed identifier is {type(value).__name__}, not text")
    return value


def hashes(values: Iterable[str] | str, *, appendix: bool = True) -> list[str]:
    """The usable hashes of ``values`` (a list, or one string), in order, without duplicates; any other
    text is dropped, so that nothing unhashed is sent (and one malformed hash fails no request).

    Raises :class:`TypeError` for a value that is not text at all."""
    if not values:  # most keys of most events: a payload asks for a dozen keys and an event has two
        return []
    if isinstance(values, str):
        found = usable_hash(values, appendix=appendix)
        return [] if found is None else [found]
    out = []
    for value in values:
        found = usable_hash(_text(value), appendix=appendix)
        if found is not None:
            out.append(found)
    return list(dict.fromkeys(out)) if len(out) > 1 else out


def first_hash(values: Iterable[str] | str) -> str:
    """The first usable hash of ``values`` without a parameter-builder ``.appendix`` (a cell of an audience
    row: the appendix belongs to the Conversions API), or ``""`` (an empty cell); :class:`TypeError` for a
    value that is not text."""
    for value in (values,) if isinstance(values, str) else values:
        if value in _SEEN:
            return value
        found = usable_hash(_text(value), appendix=False)
        if found is not None:
            if found == value:
                _seen(value)
            return found
    return ""


__all__ = ["EMPTY_SHA256", "first_hash", "hashes", "usable_hash"]
