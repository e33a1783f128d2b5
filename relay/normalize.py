"""Contact-detail normalisation and SHA-256 hashing, one function per field, shared by all connectors.

The rules are Meta's documented ones (they win over Meta's SDKs where the two disagree): NFC, trim and
lowercase everywhere; phones as digits with the country code; names and cities without punctuation or spaces
but with their letters in any script; dates of birth as ``YYYYMMDD``; US states and country names mapped to
their codes. :func:`hash_user` turns a ``user`` object into the ``hashed`` mapping of :data:`HASHED_KEYS`:
every value a lowercase SHA-256 hex digest, never the digest of an empty string. A phone is stored twice,
``ph`` (digits, for Meta, Snap, Pinterest) and ``ph_e164`` (``+`` and digits, for X, TikTok), so that each
connector finds the form its platform hashes without raw values being stored.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from relay import geo
from relay.types import AudienceMember

_sha256 = hashlib.sha256
_HASHED = re.compile(r"[0-9a-fA-F]{64}(?:\.[A-Za-z0-9_-]{2,16})?")
_EMAIL = re.compile(r"[^@\s\ud800-\udfff]+@[^@\s\ud800-\udfff]+\.[^@\s\ud800-\udfff]+")
_NON_DIGITS = re.compile(r"[^0-9]+")
_DIGIT_OR_PLUS = re.compile(r"[0-9+]")
_NANP_WRITTEN = re.compile(r"\(\s*[2-9]\d\d\s*\)\s*[2-9]\d\d\s*[-.]?\s*\d{4}")
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


def _clean(value: str) -> str:
    """Trimmed, lowercased, NFC."""
    value = value.strip().lower()
    # ASCII is always NFC; normalising only the rest keeps the common case cheap
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def normalize_email(v: str) -> str | None:
    """Trimmed and lowercased e-mail address; ``None`` when it is not one."""
    value = _clean(v)
    return value if _EMAIL.fullmatch(value) else None


def normalize_name(v: str) -> str | None:
    """First or last name: lowercase, no punctuation or spaces, letters of any script kept (``valéry``)."""
    return _clean(v).translate(_LETTERS) or None


def normalize_gender(v: str) -> str | None:
    """``f`` or ``m`` from an initial or a word (female, woman, Male, Herr ...); ``None`` otherwise."""
    return _GENDERS.get(geo.lookup_key(v) if not v.isascii() else _clean(v).translate(_LETTERS))


def normalize_city(v: str) -> str | None:
    """City: lowercase letters of any script, no punctuation, digits or spaces: ``New York`` → ``newyork``."""
    return _clean(v).translate(_LETTERS) or None


def normalize_country(v: str) -> str | None:
    """ISO 3166-1 alpha-2 code in lowercase from a code (alpha-2 or alpha-3), a name or a common alias."""
    found = _COUNTRY_MEMO.get(v)
    if found is None and v not in _COUNTRY_MEMO:
        found = _resolve_country(v)
        if len(_COUNTRY_MEMO) < 4096:  # country values repeat: remember a bounded number of them
            _COUNTRY_MEMO[v] = found
    return found


_COUNTRY_MEMO: dict[str, str | None] = {}


def _resolve_country(v: str) -> str | None:
    value = v.strip().lower()
    code = geo.COUNTRY_CODES.get(value)
    if code is None:
        key = geo.lookup_key(value)
        code = geo.COUNTRY_CODES.get(key)
        if code is None and key.startswith("the"):
            code = geo.COUNTRY_CODES.get(key[3:])
    return code


def normalize_state(v: str, country: str | None = None) -> str | None:
    """State: US names and codes → two-letter code (``California`` → ``ca``); elsewhere lowercase, no
    punctuation or spaces. US names are also mapped when the country is unknown."""
    value = _clean(v).translate(_LETTERS_DIGITS)
    if not value:
        return None
    code = normalize_country(country) if country else None
    if code is None or code in geo.US_STATE_COUNTRIES:
        return geo.US_STATES.get(value, value)
    return value


def normalize_zip(v: str, country: str | None = None) -> str | None:
    """Postal code: lowercase, the part before ``-``, no spaces or punctuation (``M1 1AE`` → ``m11ae``);
    US: the first 5 digits (``94035-1234``, ``94035 1234`` → ``94035``)."""
    value = _clean(v).partition("-")[0].translate(_ALNUM)
    if len(value) > 5 and value.isdigit():
        code = normalize_country(country) if country else None
        # 9 digits are a ZIP+4 written without its dash: no other country has 9-digit postal codes
        if code in geo.US_STATE_COUNTRIES or (code is None and len(value) == 9):
            return value[:5]
    return value or None


def normalize_external_id(v: str) -> str | None:
    """External id: trimmed and lowercased (the same form must be used on every channel)."""
    return _clean(v) or None


def normalize_madid(v: str) -> str | None:
    """Mobile advertiser id (IDFA/GAID): trimmed, lowercase, hyphens kept; the all-zero id is dropped."""
    value = v.strip().lower()
    return value if value and value != _ZERO_MADID else None


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


_ISO_DATE = re.compile(r"(\d{4})[-/. ](\d{1,2})[-/. ](\d{1,2})(?!\d)")
_DATE_TOKENS = re.compile(r"\d+|[^\W\d_]+")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "january jan janv januar enero gennaio janeiro",
            "february feb febr fevr fevrier februar febrero febbraio fevereiro",
            "march mar mars marz maerz marzo marco",
            "april apr avr avril abril aprile",
            "may mai mayo maggio maio",
            "june jun juin juni junio giugno junho",
            "july jul juil juillet juli julio luglio julho",
            "august aug aout august agosto",
            "september sep sept septembre septiembre settembre setembro",
            "october oct octobre oktober okt octubre ottobre outubro",
            "november nov novembre noviembre novembro",
            "december dec decembre dezember dez diciembre dicembre dezembro",
        ),
        start=1,
    )
    for name in names.split()
}
#: words that may stand in a written date without changing it ("Monday, the 16th of February")
_DATE_FILLERS = frozenset(
    "st nd rd th of the de del di le am on monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun".split()
)
_year_ends = [0.0]  # [time when the cached current year ends]
_this_year = [0]


def _current_year() -> int:
    """This UTC year, recomputed only when a year ends (the relay runs for months)."""
    now = time.time()
    if now >= _year_ends[0]:
        _this_year[0] = year = time.gmtime(now).tm_year
        _year_ends[0] = float(calendar.timegm((year + 1, 1, 1, 0, 0, 0)))
    return _this_year[0]


def normalize_date_of_birth(v: str, country: str | None = None) -> str | None:
    """Date of birth as ``YYYYMMDD`` (year 1900 to this year) from the usual written forms.

    Accepted: ``1997-02-16`` (and ISO date-times), ``19970216``, ``2/16/1997``, ``16.02.1997``,
    ``16 Feb 1997``, ``February 16th, 1997``, two-digit years (the latest century that is not in the
    future). Ambiguous day/month orders (``01/02/1997``) are read month first (the docs' US order) unless
    written with dots or ``country`` is one that writes day first.
    """
    value = _clean(v)
    if len(value) == 8 and value.isdigit():
        return _compact_date(value, country)
    iso = _ISO_DATE.match(value)
    if iso is not None:
        return _valid_date(int(iso[1]), int(iso[2]), int(iso[3]))
    tokens = _DATE_TOKENS.findall(value)
    numbers = [t for t in tokens if t.isdigit()]
    if any(len(number) > 4 for number in numbers):
        return None  # also keeps int() away from hostile 5,000-digit strings
    words = [t for t in tokens if not t.isdigit() and t not in _DATE_FILLERS]
    if words:
        month = _MONTHS.get(geo.lookup_key(words[0])) if len(words) == 1 and len(numbers) == 2 else None
        return None if month is None else _date_with_month_name(numbers, month)
    if len(numbers) < 3 or (len(numbers) > 3 and len(numbers[2]) != 4):
        return None  # extra numbers are only allowed as a time after D/M/YYYY
    first, second, third = numbers[:3]
    if len(first) == 4:
        return _valid_date(int(first), int(second), int(third))
    if len(first) > 2 or len(second) > 2 or len(third) not in (2, 4):
        return None
    return _day_month(int(first), int(second), _year(third), _month_first("." not in value, country))


def _month_first(slashes: bool, country: str | None) -> bool:
    code = normalize_country(country) if country else None
    return slashes and (code is None or code in geo.MONTH_FIRST_COUNTRIES)


def _compact_date(value: str, country: str | None) -> str | None:
    """``YYYYMMDD``, else ``DDMMYYYY`` / ``MMDDYYYY``."""
    found = _valid_date(int(value[:4]), int(value[4:6]), int(value[6:]))
    if found is None:
        found = _day_month(int(value[:2]), int(value[2:4]), int(value[4:]), _month_first(True, country))
    return found


def _date_with_month_name(numbers: list[str], month: int) -> str | None:
    first, second = numbers
    if len(first) == 4 or (len(second) <= 2 and int(first) > 31):
        first, second = second, first  # "1997 Feb 16" or "97 Feb 16": the year came first
    if len(first) > 2:
        return None
    return _valid_date(_year(second), month, int(first))


def _day_month(first: int, second: int, year: int, month_first: bool) -> str | None:
    if first > 12 or (second <= 12 and not month_first):
        return _valid_date(year, second, first)
    return _valid_date(year, first, second)


def _year(text: str) -> int:
    """A 4-digit year as is; a 2-digit one in the latest century where it is not in the future."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= _current_year() else 1900
    return year


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_date(year: int, month: int, day: int) -> str | None:
    if not (1900 <= year <= _current_year() and 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month]):
        return None
    if month == 2 and day == 29 and not calendar.isleap(year):
        return None
    return f"{year:04d}{month:02d}{day:02d}"


#: a handler normalises and hashes one raw value into the hashed mapping; it answers why it dropped it
_Handler = Callable[[str, str | None, dict[str, list[str]]], str | None]
_COMMON_DIGESTS: dict[str, str] = {}


def _common_digest(value: str) -> str:
    """:func:`sha256_hex` remembered for the few values of low-cardinality fields (gender, initials, parts of
    dates, cities, states, zips, countries): most rows of a large audience then hash only email and phone."""
    digest = _COMMON_DIGESTS.get(value)
    if digest is None:
        if len(_COMMON_DIGESTS) >= 100_000:
            _COMMON_DIGESTS.clear()
        digest = _COMMON_DIGESTS[value] = sha256_hex(value)
    return digest


def _add(hashed: dict[str, list[str]], key: str, digest: str) -> None:
    found = hashed.get(key)
    if found is None:
        hashed[key] = [digest]
    elif digest not in found:
        found.append(digest)


def _email(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
    email = normalize_email(value)
    if email is None:
        return "not an email address"
    _add(hashed, "em", sha256_hex(email))
    return None


def _phone(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
    number = normalize_phone(value, country)
    if number is None:
        return "not a phone number"
    _add(hashed, "ph", sha256_hex(number))
    _add(hashed, "ph_e164", sha256_hex("+" + number))
    return None


def _first_name(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
    name = normalize_name(value)
    if name is None:
        return "no letters left"
    _add(hashed, "fn", sha256_hex(name))
    _add(hashed, "fi", _common_digest(name[0]))
    return None


def _date_of_birth(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
    date = normalize_date_of_birth(value, country)
    if date is None:
        return "not a date of birth between 1900 and this year"
    _add(hashed, "db", sha256_hex(date))
    _add(hashed, "doby", _common_digest(date[:4]))
    _add(hashed, "dobm", _common_digest(date[4:6]))
    _add(hashed, "dobd", _common_digest(date[6:]))
    return None


def _plain(key: str, normalizer: Callable[[str], str | None], reason: str, common: bool = False) -> _Handler:
    digest = _common_digest if common else sha256_hex

    def handle(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
        normalized = normalizer(value)
        if normalized is None:
            return reason
        _add(hashed, key, digest(normalized))
        return None

    return handle


def _local(key: str, normalizer: Callable[[str, str | None], str | None]) -> _Handler:
    """Like :func:`_plain` for a normaliser that depends on the country (states, zips)."""

    def handle(value: str, country: str | None, hashed: dict[str, list[str]]) -> str | None:
        normalized = normalizer(value, country)
        if normalized is None:
            return "nothing usable left"
        _add(hashed, key, _common_digest(normalized))
        return None

    return handle


#: user key, key stored for a value that arrives already hashed, handler of a raw value
_FIELDS: tuple[tuple[str, str, _Handler], ...] = (
    ("email", "em", _email),
    ("phone", "ph", _phone),
    ("first_name", "fn", _first_name),
    ("last_name", "ln", _plain("ln", normalize_name, "no letters left")),
    ("gender", "ge", _plain("ge", normalize_gender, "not f or m", common=True)),
    ("date_of_birth", "db", _date_of_birth),
    ("city", "ct", _plain("ct", normalize_city, "no letters left", common=True)),
    ("state", "st", _local("st", normalize_state)),
    ("zip", "zp", _local("zp", normalize_zip)),
    ("country", "country", _plain("country", normalize_country, "unknown country", common=True)),
    ("external_id", "external_id", _plain("external_id", normalize_external_id, "empty")),
)


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
    hashed: dict[str, list[str]] = {}
    problems: list[str] = []
    country = _user_country(user, default_country)
    for field, hashed_key, handler in _FIELDS:
        raw = user.get(field)
        if raw is None:
            continue
        # one string is the common case: no generator for it (a million rows per audience sync)
        for text in (raw,) if type(raw) is str else _texts(raw):
            reason = "not text" if text is None else _hash_text(text, hashed_key, handler, country, hashed)
            if reason is not None and (note := f"{field}: {reason}, dropped") not in problems:
                problems.append(note)
    return HashedUser(hashed, problems)


def _hash_text(
    text: str, hashed_key: str, handler: _Handler, country: str | None, hashed: dict[str, list[str]]
) -> str | None:
    stripped = text.strip()
    if not stripped:
        return None  # absent, not a problem
    if len(stripped) >= 64 and _HASHED.fullmatch(stripped):
        _add(hashed, hashed_key, stripped[:64].lower() + stripped[64:])
        return None
    return handler(text, country, hashed)


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
    return country


def member_from_row(
    row: Mapping[str, Any], *, default_country: str | None = None
) -> tuple[AudienceMember | None, str | None]:
    """One audience source row (or API user object) → member, or ``(None, reason)`` when it has no usable
    identifier: an email, phone, external_id, madid, or both first and last name."""
    user = hash_user(row, default_country=default_country)
    raw_madid = _first_text(row.get("madid"))
    madid = normalize_madid(raw_madid) if raw_madid else None
    hashed = user.hashed
    if madid is None and not ("em" in hashed or "ph" in hashed or "external_id" in hashed):
        if not ("fn" in hashed and "ln" in hashed):
            reason = "no usable identifier (email, phone, external_id, madid or first and last name)"
            return None, "; ".join((reason, *user.problems))
    return AudienceMember(hashed=hashed, madid=madid), None


__all__ = [
    "HashedUser",
    "digest_of",
    "hash_user",
    "is_hashed",
    "member_from_row",
    "normalize_city",
    "normalize_country",
    "normalize_date_of_birth",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_madid",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_zip",
    "sha256_hex",
]
