"""Dates of birth as ``YYYYMMDD`` from the many ways people and CRMs write them."""

from __future__ import annotations

import calendar
import re
import time

from relay.normalize import geo
from relay.normalize.contact import clean, normalize_country
from relay.normalize.monthnames import MONTHS, WEEKDAYS

_ISO_DATE = re.compile(r"(\d{4})[-/. ](\d{1,2})[-/. ](\d{1,2})(?!\d)")
_DATE_TOKENS = re.compile(r"\d+|[^\W\d_]+")
#: Chinese, Japanese and Korean dates: 1997年2月16日, 1997년 2월 16일, 平成9年2月16日 (then maybe a weekday)
_CJK_DATE = re.compile(
    r"(明治|大正|昭和|平成|令和)?\s*(\d{1,4}|元)\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일号號]?"
)
#: first year of each Japanese era (平成9年 is 1997; 元年 is the first year)
_ERAS = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
#: words that may stand in a written date without changing it ("Monday, the 16th of February", "16 de
#: febrero de 1997", "1997 r."): weekdays of the month-name languages, small words, "year" (ru, uk)
_DATE_FILLERS = (
    frozenset("st nd rd th of the de del di d le am on den el r roku".split())
    | frozenset("\u0433 \u0433\u043e\u0434\u0430 \u0440 \u0440\u043e\u043a\u0443".split())
    | WEEKDAYS
) - MONTHS.keys()
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
    cjk = _CJK_DATE.match(value)
    if cjk is not None:
        return _cjk_date(cjk)
    tokens = _DATE_TOKENS.findall(value)
    numbers = [t for t in tokens if t.isdigit()]
    if any(len(number) > 4 for number in numbers):
        return None  # also keeps int() away from hostile 5,000-digit strings
    words = [key for t in tokens if not t.isdigit() and (key := geo.lookup_key(t)) not in _DATE_FILLERS]
    if words:
        month = _month(words) if len(numbers) == 2 else None
        return None if month is None else _date_with_month_name(numbers, month)
    if len(numbers) < 3 or (len(numbers) > 3 and len(numbers[2]) != 4):
        return None  # extra numbers are only allowed as a time after D/M/YYYY
    first, second, third = numbers[:3]
    if len(first) == 4:
        return _valid_date(int(first), int(second), int(third))
    if len(first) > 2 or len(second) > 2 or len(third) not in (2, 4):
        return None
    return _day_month(int(first), int(second), _year(third), _month_first("." not in value, country))


def _month(words: list[str]) -> int | None:
    """The month named by the only word left, or by the one that is not a weekday ("mar." is Tuesday in
    French and Spanish, March in English)."""
    if len(words) == 2:
        words = [word for word in words if word not in WEEKDAYS]
    return MONTHS.get(words[0]) if len(words) == 1 else None


def _cjk_date(found: re.Match[str]) -> str | None:
    era, year, month, day = found.groups()
    number = 1 if year == "元" else int(year)
    if era is not None:
        number += _ERAS[era] - 1
    elif len(year) != 4:
        return None  # 97年: the century is unknown
    return _valid_date(number, int(month), int(day))


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
