"""Normalisers of the textual contact fields: e-mail, names, gender, city, country, state, zip and ids.

Meta's documented rules: NFC, trim and lowercase everywhere; names and cities without punctuation or spaces
but with their letters in any script; US states and country names mapped to their codes. Phones
(:mod:`relay.normalize.phone`) and dates of birth (:mod:`relay.normalize.birthdate`) have modules of their
own; :mod:`relay.normalize` re-exports all of them and :mod:`relay.normalize.hashing` hashes the results.
"""

from __future__ import annotations

import re
import unicodedata

from relay.normalize import geo

#: what an e-mail address may not contain: a second @, spaces, control characters, unpaired surrogates
_NOT_IN_EMAIL = re.compile(r"[@\s\x00-\x1f\x7f\ud800-\udfff]")
_ZERO_MADID = "00000000-0000-0000-0000-000000000000"

_GENDERS = {
    **dict.fromkeys(
        "f w female woman women girl fem feminine mrs ms miss femme femenino femenina mujer weiblich frau "
        "donna feminino mulher vrouw vrouwelijk kvinna kvinde kvinne kobieta".split(),
        "f",
    ),
    **dict.fromkeys(
        "m male man men boy masculine mr homme masculin masculino hombre mannlich maennlich mann herr uomo "
        "maschio homem mannelijk mezczyzna".split(),
        "m",
    ),
}


class _CharFilter(dict[int, int | None]):
    """A :meth:`str.translate` table keeping the Unicode categories whose initial is in ``keep``.

    Filled lazily: each code point is classified once, so ASCII input costs a dict lookup per character.
    """

    __slots__ = ("_keep",)

    def __init__(self, keep: str) -> None:
        super().__init__()
        self._keep = keep

    def __missing__(self, codepoint: int) -> int | None:
        kept = codepoint if unicodedata.category(chr(codepoint))[0] in self._keep else None
        if len(self) < 20_000:  # bounded: hostile input must not grow it without end
            self[codepoint] = kept
        return kept


_LETTERS = _CharFilter("LM")  # names, cities, gender: letters of any script and their combining marks
_LETTERS_DIGITS = _CharFilter("LMN")  # states
_ALNUM = _CharFilter("LN")  # postal codes


def clean(value: str) -> str:
    """Trimmed, lowercased, NFC."""
    value = value.strip().lower()
    # ASCII is always NFC; normalising only the rest keeps the common case cheap
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def normalize_email(v: str) -> str | None:
    """Trimmed and lowercased e-mail address; ``None`` when it is not one."""
    value = clean(v)
    local, _, domain = value.partition("@")
    # linear scans: a backtracking pattern here was quadratic on hostile input (60 KB took seconds)
    valid = (
        local and "." in domain[1:-1] and not _NOT_IN_EMAIL.search(local) and not _NOT_IN_EMAIL.search(domain)
    )
    return value if valid else None


def normalize_name(v: str) -> str | None:
    """First or last name: lowercase, no punctuation or spaces, letters of any script kept (``valéry``)."""
    return clean(v).translate(_LETTERS) or None


def normalize_gender(v: str) -> str | None:
    """``f`` or ``m`` from an initial or a word (female, woman, Male, Herr ...); ``None`` otherwise."""
    return _GENDERS.get(geo.lookup_key(v) if not v.isascii() else clean(v).translate(_LETTERS))


def normalize_city(v: str) -> str | None:
    """City: lowercase letters of any script, no punctuation, digits or spaces: ``New York`` → ``newyork``."""
    return clean(v).translate(_LETTERS) or None


def normalize_country(v: str) -> str | None:
    """ISO 3166-1 alpha-2 code in lowercase from a code (alpha-2 or alpha-3), an ISO name (short, official or
    common, in English or another major language) or a common alias (``UK``); ``None`` otherwise (``N/A``)."""
    found = _COUNTRY_MEMO.get(v)
    if found is None and v not in _COUNTRY_MEMO:
        found = geo.country_code(v)
        if len(_COUNTRY_MEMO) < 4096:  # country values repeat: remember a bounded number of them
            _COUNTRY_MEMO[v] = found
    return found


_COUNTRY_MEMO: dict[str, str | None] = {}
#: what spreadsheets and CRMs put in an address field that has no value
_NO_VALUE = frozenset({"n/a", "n.a.", "#n/a", "none", "null", "nil", "unknown", "-", "--", "?"})


def normalize_state(v: str, country: str | None = None) -> str | None:
    """State: US names and codes → two-letter ANSI code (``California`` → ``ca``); elsewhere lowercase, no
    punctuation or spaces. US names are also mapped when the country is unknown."""
    value = clean(v)
    if value in _NO_VALUE:
        return None
    value = value.translate(_LETTERS_DIGITS)
    if not value:
        return None
    code = normalize_country(country) if country else None
    if code is None or code in geo.US_STATE_COUNTRIES:
        return geo.us_states().get(geo.lookup_key(value) if not value.isascii() else value, value)
    return value


_US_ZIP = re.compile(r"(\d{5})(?:[-\s]*\d{4})?")


def normalize_zip(v: str, country: str | None = None) -> str | None:
    """Postal code: lowercase, no spaces, dashes or other punctuation (``M1 1AE`` → ``m11ae``, ``00-950`` →
    ``00950``); US: the first 5 digits (``94035-1234`` → ``94035``), also when the country is unknown and the
    value is written as a ZIP+4."""
    value = clean(v)
    if value in _NO_VALUE:
        return None
    code = normalize_country(country) if country else None
    if code in geo.US_STATE_COUNTRIES or (code is None and _US_ZIP.fullmatch(value)):
        digits = value.translate(_ALNUM)
        if digits[:5].isdigit():
            return digits[:5]
        return digits or None
    return value.translate(_ALNUM) or None


def normalize_external_id(v: str) -> str | None:
    """External id: trimmed and lowercased (the same form must be used on every channel)."""
    return clean(v) or None


def normalize_madid(v: str) -> str | None:
    """Mobile advertiser id (IDFA/GAID): trimmed, lowercase, hyphens kept; the all-zero id is dropped."""
    value = v.strip().lower()
    return value if value and value != _ZERO_MADID else None


__all__ = [
    "clean",
    "normalize_city",
    "normalize_country",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_madid",
    "normalize_name",
    "normalize_state",
    "normalize_zip",
]
