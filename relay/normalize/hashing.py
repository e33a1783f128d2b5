"""SHA-256 hashing of normalised contact details: a ``user`` object to the ``hashed`` mapping, audience rows.

:func:`hash_user` turns a ``user`` object into the ``hashed`` mapping of :data:`HASHED_KEYS`: every value a
lowercase SHA-256 hex digest, never the digest of an empty string. A phone is stored twice, ``ph`` (digits,
for Meta, Snap, Pinterest) and ``ph_e164`` (``+`` and digits, for X, TikTok), so that each connector finds the
form its platform hashes without raw values being stored. The field rules are those of
:mod:`relay.normalize.contact`, :mod:`relay.normalize.phone` and :mod:`relay.normalize.birthdate`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from relay.normalize.birthdate import normalize_date_of_birth
from relay.normalize.contact import (
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_madid,
    normalize_name,
    normalize_state,
    normalize_zip,
)
from relay.normalize.phone import normalize_phone
from relay.types import EMAIL_FORMS, AudienceMember

_sha256 = hashlib.sha256
_HASHED = re.compile(r"[0-9a-fA-F]{64}(?:\.[A-Za-z0-9_-]{2,16})?")


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``value``."""
    try:
        data = value.encode()
    except UnicodeEncodeError:  # lone surrogates (JSON allows "\\ud800"): hash them rather than fail
        data = value.encode("utf-8", "surrogatepass")
    return _sha256(data).hexdigest()


def is_hashed(value: str) -> bool:
    """Whether ``value`` already is a SHA-256 hex digest (optionally with a Meta ``.appendix`` segment)."""
    return _HASHED.fullmatch(value.strip()) is not None


def digest_of(value: str) -> str:
    """The bare 64-hex digest of a stored hash, without a Meta parameter-builder ``.appendix``."""
    return value[:64]


#: a handler normalises and hashes one raw value into the hashed mapping; it answers why it dropped it
_Handler = Callable[[str, str | None, dict[str, list[str]]], str | None]
#: what a memoised field rule answers for one value (and country): the (key, digest) pairs, or why it drops it
_Pairs = tuple[tuple[str, str], ...] | str
_Rule = Callable[[str, str | None], _Pairs]
_MEMO_SIZE = 1 << 16


def _add(hashed: dict[str, list[str]], key: str, digest: str) -> None:
    found = hashed.get(key)
    if found is None:
        hashed[key] = [digest]
    elif digest not in found:
        found.append(digest)


def _memoised(rule: _Rule, *, by_country: bool = False) -> _Handler:
    """A handler answering from a bounded memo of ``rule``, a pure function of the value (and of the country
    when ``by_country``): genders, names, dates of birth, cities, states, zips and countries repeat across
    the rows of an audience, so most rows normalise and hash only their email, phone and external id.
    A dict, emptied when full: cheaper per hit than an LRU, and hostile input cannot grow it."""
    memo: dict[object, _Pairs] = {}

    def handle(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
        key = (value, country) if by_country else value
        found = memo.get(key)
        if found is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            found = memo[key] = rule(value, country if by_country else None)
        if isinstance(found, str):
            return found
        for name, digest in found:  # _add, inlined: a million rows run through here several times each
            have = hashed.get(name)
            if have is None:
                hashed[name] = [digest]
            elif digest not in have:
                have.append(digest)
        return None

    return handle


def _email_handler(forms: tuple[tuple[str, Callable[[str], str]], ...]) -> _Handler:
    """The email handler keeping, beside ``em``, each platform form of ``forms`` (key, normaliser)."""

    def email_(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
        email = normalize_email(value)
        if email is None:
            return "not an email address"
        digest = sha256_hex(email)
        # every email in each platform's form, beside em, once one of them differs from em: the earlier
        # emails (and already-hashed ones) are copied as they are when the list starts
        for key, normalise in forms:
            form = normalise(email)
            found_forms = hashed.get(key)
            if found_forms is None:
                if form == email:
                    continue
                found_forms = hashed[key] = list(hashed.get("em", ()))
            found = digest if form == email else sha256_hex(form)
            if found not in found_forms:
                found_forms.append(found)
        _add(hashed, "em", digest)
        return None

    return email_


#: Google removes every dot of the local part of these addresses before hashing (enhanced conversions,
#: Customer Match); other platforms hash the address as written
GOOGLE_DOT_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def google_email(email: str) -> str:
    """A normalised email as Google hashes it: dots removed from gmail.com / googlemail.com local parts."""
    local, _, domain = email.rpartition("@")
    return f"{local.replace('.', '')}@{domain}" if domain in GOOGLE_DOT_DOMAINS else email


def reddit_email(email: str) -> str:
    """A normalised email in the form hashed for Reddit: every dot of the local part and a ``+suffix``
    removed, on every domain (the canonicalisation Segment applies "to follow Reddit formats")."""
    local, _, domain = email.rpartition("@")
    if "." not in local and "+" not in local:
        return email
    local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}" if local else email


def _phone(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
    number = normalize_phone(value, country)
    if number is None:
        return "not a phone number"
    _add(hashed, "ph", sha256_hex(number))
    _add(hashed, "ph_e164", sha256_hex("+" + number))
    return None


def _first_name(value: str, country: str | None) -> _Pairs:
    name = normalize_name(value)
    if name is None:
        return "no letters left"
    return ("fn", sha256_hex(name)), ("fi", sha256_hex(name[0]))


def _date_of_birth(value: str, country: str | None) -> _Pairs:
    date = normalize_date_of_birth(value, country)
    if date is None:
        return "not a date of birth between 1900 and this year"
    parts = (("db", date), ("doby", date[:4]), ("dobm", date[4:6]), ("dobd", date[6:]))
    return tuple((key, sha256_hex(part)) for key, part in parts)


def _rule(key: str, normalizer: Callable[[str], str | None], reason: str) -> _Rule:
    def rule(value: str, country: str | None) -> _Pairs:
        normalized = normalizer(value)
        return reason if normalized is None else ((key, sha256_hex(normalized)),)

    return rule


def _local(key: str, normalizer: Callable[[str, str | None], str | None]) -> _Rule:
    """Like :func:`_rule` for a normaliser that depends on the country (states, zips)."""

    def rule(value: str, country: str | None) -> _Pairs:
        normalized = normalizer(value, country)
        return "nothing usable left" if normalized is None else ((key, sha256_hex(normalized)),)

    return rule


def _each(key: str, normalizer: Callable[[str], str | None], reason: str) -> _Handler:
    """A handler normalising and hashing every value afresh, for values unique per person (ids)."""

    def handle(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
        normalized = normalizer(value)
        if normalized is None:
            return reason
        _add(hashed, key, sha256_hex(normalized))
        return None

    return handle


_GOOGLE, _REDDIT = EMAIL_FORMS
#: user key, key stored for a value that arrives already hashed, handler of a raw value
_FIELDS: tuple[tuple[str, str, _Handler], ...] = (
    ("email", "em", _email_handler(((_GOOGLE, google_email), (_REDDIT, reddit_email)))),
    ("phone", "ph", _phone),
    ("first_name", "fn", _memoised(_first_name)),
    ("last_name", "ln", _memoised(_rule("ln", normalize_name, "no letters left"))),
    ("gender", "ge", _memoised(_rule("ge", normalize_gender, "not f or m"))),
    ("date_of_birth", "db", _memoised(_date_of_birth, by_country=True)),
    ("city", "ct", _memoised(_rule("ct", normalize_city, "no letters left"))),
    ("state", "st", _memoised(_local("st", normalize_state), by_country=True)),
    ("zip", "zp", _memoised(_local("zp", normalize_zip), by_country=True)),
    ("country", "country", _memoised(_rule("country", normalize_country, "unknown country"))),
    ("external_id", "external_id", _each("external_id", normalize_external_id, "empty")),
)
#: an audience member's fields: Google's email form only (no audience connector sends Reddit's, and
#: a million-row audience would hash each dotted address once more for nothing)
_MEMBER_FIELDS = (("email", "em", _email_handler(((_GOOGLE, google_email),))), *_FIELDS[1:])


@dataclass(frozen=True, slots=True)
class HashedUser:
    """Hashed contact details of one person and PII-free notes on what was dropped."""

    hashed: dict[str, list[str]]
    problems: list[str]


def hash_user(user: Mapping[str, Any], *, default_country: str | None = None) -> HashedUser:
    """Normalise and hash the contact details of ``user`` (keys of CONTRACT §4.1; others are ignored).

    Each field may be a string or a list of strings. Values that already look hashed pass through (hex
    lowercased; a phone only under ``ph``); values that normalise to nothing are dropped with a note. The
    country used for phones, states and zips is ``user.country`` (its first value) else ``default_country``.
    """
    return _hash_user(user, default_country, _FIELDS)


def _hash_user(
    user: Mapping[str, Any], default_country: str | None, fields: tuple[tuple[str, str, _Handler], ...]
) -> HashedUser:
    hashed: dict[str, list[str]] = {}
    problems: list[str] = []
    country = _user_country(user, default_country)
    for field, hashed_key, handler in fields:
        raw = user.get(field)
        if raw is None:
            continue
        # one string is the common case: no generator for it (a million rows per audience sync)
        for text in (raw,) if type(raw) is str else _texts(raw):
            if text is None:
                reason: str | None = "not text"
            elif not (stripped := text.strip()):
                continue  # absent, not a problem
            elif len(stripped) >= 64 and _HASHED.fullmatch(stripped):
                digest = stripped[:64].lower() + stripped[64:]
                _add(hashed, hashed_key, digest)
                if hashed_key == "em":  # already hashed: Google and Reddit get it as it is
                    for key in EMAIL_FORMS:
                        if key in hashed:
                            _add(hashed, key, digest)
                continue
            else:
                reason = handler(text, country, hashed)
            if reason is not None and (note := f"{field}: {reason}, dropped") not in problems:
                problems.append(note)
    return HashedUser(hashed, problems)


_MAX_NUMBER = 10**16


def _texts(raw: Any) -> Iterator[str | None]:
    """The values of one field as text; ``None`` for an item that is not text (a problem to report)."""
    if isinstance(raw, str):
        yield raw
    elif isinstance(raw, list | tuple):
        for item in raw:
            if item is not None:  # a null in a list is a missing value, like a null field
                yield from _texts(item) if isinstance(item, str | int | float) else (None,)
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and -_MAX_NUMBER < raw < _MAX_NUMBER:
        # a phone, zip or date of birth sent as a JSON number (bounded: str() of a huge int raises)
        yield str(int(raw)) if raw == int(raw) else None
    else:
        yield None


def _first_text(raw: Any) -> str | None:
    if raw is None or type(raw) is str:
        return raw
    return next(_texts(raw), None)


def _user_country(user: Mapping[str, Any], default_country: str | None) -> str | None:
    raw = _first_text(user.get("country"))
    country = normalize_country(raw) if raw else None
    if country is None and default_country:
        country = normalize_country(default_country)
    if country is None and raw:
        country = raw.strip()  # no ISO 3166-1 country but maybe a phone numbering region (AC, TA)
    return country


def member_from_row(
    row: Mapping[str, Any], *, default_country: str | None = None
) -> tuple[AudienceMember | None, str | None]:
    """One audience source row (or API user object) → member, or ``(None, reason)`` when it has no usable
    identifier: an email, phone, external_id, madid, or both first and last name."""
    user = _hash_user(row, default_country, _MEMBER_FIELDS)
    raw_madid = _first_text(row.get("madid"))
    madid = normalize_madid(raw_madid) if raw_madid else None
    hashed = user.hashed
    if madid is None and not ("em" in hashed or "ph" in hashed or "external_id" in hashed):
        if not ("fn" in hashed and "ln" in hashed):
            reason = "no usable identifier (email, phone, external_id, madid or first and last name)"
            return None, "; ".join((reason, *user.problems))
    return AudienceMember(hashed=hashed, madid=madid), None


__all__ = [
    "GOOGLE_DOT_DOMAINS",
    "HashedUser",
    "digest_of",
    "google_email",
    "hash_user",
    "is_hashed",
    "member_from_row",
    "reddit_email",
    "sha256_hex",
]
