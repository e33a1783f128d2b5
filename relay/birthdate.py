"""Dates of birth as ``YYYYMMDD`` from the many ways people and CRMs write them."""

from __future__ import annotations

import calendar
import re
import time

from relay import geo
from relay.contact import clean, normalize_country

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
    value = clean(v)
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


__all__ = ["normalize_date_of_birth"]
