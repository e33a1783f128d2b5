"""Write tests/corpus/normalize.jsonl: contact values and the normalised form Meta's docs rules give them.

Each line is ``{"field", "input", "country", "expected"}``. The expected outputs come from the sources, never
from relay code: phone numbers from libphonenumber's example numbers per region (written nationally,
internationally, with spaces, dashes, dots, ``00`` and an extension → E.164 digits), countries from ISO
3166-1 records (codes, names, official and common names, in any case → alpha-2), US states from ISO 3166-2,
zips per country with spaces and dashes (→ no spaces or dashes; US: first 5 digits) and dates of birth
rendered by CLDR in 20+ locales (→ ``YYYYMMDD``). Deterministic: the same library versions write the same
file. Run ``.venv/bin/python scripts/make_normalize_corpus.py`` after upgrading phonenumbers, pycountry or
Babel, and review the diff.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import random
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
import pycountry
from babel.dates import format_date
from phonenumbers import PhoneNumberFormat, PhoneNumberType

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "corpus" / "normalize.jsonl"
#: the library versions the corpus was written with (the staleness test compares only under the same ones)
VERSIONS = ROOT / "tests" / "corpus" / "versions.json"
LIBRARIES = ("phonenumberslite", "pycountry", "babel")
#: locales whose long, medium and full written dates the relay must read
DATE_LOCALES = (
    "en en_GB fr de es it pt pt_BR nl pl sv tr da nb fi cs sk hu ro el ru uk ca id ja zh ko".split()
)
_TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.VOIP,
)
#: postal codes as each country writes them (from the countries' postal formats); US: ZIP and ZIP+4
_ZIPS = {
    "us": ["94035", "94035-1234", "94035 1234", "940351234", "02134", "00501-0001"],
    "gb": ["M1 1AE", "SW1A 1AA", "EC1A 1BB", "W1A 0AX", "B33 8TH", "CR2 6XH", "DN55 1PT"],
    "ca": ["K1A 0B1", "M5V 3L9", "H3Z 2Y7"],
    "pl": ["00-950", "30-001", "80-180"],
    "jp": ["100-0001", "150-0002", "530-0001"],
    "br": ["01310-100", "20040-020", "70040-010"],
    "pt": ["1000-001", "4000-322"],
    "nl": ["1012 AB", "3011 CD", "2511 BT"],
    "de": ["10115", "80331", "01067"],
    "fr": ["75018", "13001", "01000"],
    "it": ["00184", "20121"],
    "es": ["28001", "08001"],
    "au": ["1987", "2000", "0800"],
    "se": ["111 22", "412 58"],
    "cz": ["110 00", "602 00"],
    "sk": ["811 01", "040 01"],
    "gr": ["105 57", "546 21"],
    "ie": ["D02 X285", "A65 F4E2"],
    "ar": ["C1425DKA", "B1636FDA"],
    "kr": ["03187", "06236"],
    "in": ["110001", "400 001"],
    "cn": ["100000", "200000"],
    "ru": ["101000", "190000"],
    "il": ["6100000", "9100000"],
    "mt": ["VLT 1117", "SLM 1549"],
}


def _row(field: str, text: str, country: str | None, expected: str | None) -> dict[str, str | None]:
    return {"field": field, "input": text, "country": country, "expected": expected}


def _phone_forms(number: phonenumbers.PhoneNumber, rng: random.Random) -> Iterator[tuple[str, bool]]:
    """(written form, needs the country) of one number: ``+``/``00`` forms need none."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    yield national, True
    yield national.replace(" ", ""), True
    yield national.replace(" ", "-"), True
    yield international, False
    yield international.replace(" ", "-"), False
    yield international.replace(" ", "."), False
    yield e164, False
    yield "00" + e164[1:], False
    yield e164[1:], False  # digits with the country code, no "+"
    yield f"{international} ext. {rng.randint(1, 9999)}", False
    yield f"{national} x{rng.randint(1, 999)}", True


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def phones(rng: random.Random) -> Iterator[dict[str, str | None]]:
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None or not phonenumbers.is_valid_number(number):
                continue
            expected = _e164(number)
            for text, needs_country in _phone_forms(number, rng):
                yield _row("phone", text, region if needs_country else None, expected)
                if not needs_country:
                    yield _row("phone", text, region, expected)
    # too short for most regions (``12345`` with GB must not become a "valid" +4412345)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        short = phonenumbers.parse("12345", region)
        valid = phonenumbers.is_valid_number(short)
        yield _row("phone", "12345", region, _e164(short) if valid else None)
    yield _row("phone", "+999 1234 5678", None, None)


def countries() -> Iterator[dict[str, str | None]]:
    for record in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        expected = record.alpha_2.lower()
        names = {record.name, getattr(record, "official_name", None), getattr(record, "common_name", None)}
        for text in [*sorted(n for n in names if n), record.alpha_2, record.alpha_3]:
            yield _row("country", text, None, expected)
            yield _row("country", text.upper(), None, expected)
            yield _row("country", f"  {text.lower()} ", None, expected)
    for text in ("N/A", "n/a", "#N/A", "", "Narnia", "XX", "ZZZ"):
        yield _row("country", text, None, None)


def states() -> Iterator[dict[str, str | None]]:
    for record in sorted(pycountry.subdivisions.get(country_code="US"), key=lambda s: s.code):
        expected = record.code.split("-")[1].lower()
        for text in (record.name, record.name.upper(), record.code.split("-")[1]):
            yield _row("state", text, "US", expected)
            yield _row("state", text, None, expected)
    # elsewhere: lowercase without spaces or punctuation (the docs define codes for the US only)
    for record in sorted(pycountry.subdivisions.get(country_code="DE"), key=lambda s: s.code):
        expected = "".join(ch for ch in record.name.lower() if ch.isalpha() or ch.isdigit())
        yield _row("state", record.name, "DE", expected)


def zips() -> Iterator[dict[str, str | None]]:
    for country, codes in _ZIPS.items():
        record = pycountry.countries.get(alpha_2=country.upper())
        for text in codes:
            bare = "".join(ch for ch in text.lower() if ch.isalnum())
            expected = bare[:5] if country == "us" else bare
            for written in (text, text.lower(), f" {text} ", text.replace(" ", "-")):
                for country_as in (record.alpha_2, record.alpha_3, record.name):
                    yield _row("zip", written, country_as, expected)


def dates(rng: random.Random) -> Iterator[dict[str, str | None]]:
    start = datetime.date(1900, 1, 1).toordinal()
    end = datetime.date(2010, 12, 31).toordinal()
    days = [datetime.date.fromordinal(rng.randint(start, end)) for _ in range(24)]
    days += [datetime.date(1997, month, 16) for month in range(1, 13)]  # every month name
    for locale in DATE_LOCALES:
        for day in days:
            for style in ("medium", "long", "full"):
                text = format_date(day, style, locale=locale)
                yield _row("date_of_birth", text, None, day.strftime("%Y%m%d"))
    for day in days:
        yield _row("date_of_birth", day.isoformat(), None, day.strftime("%Y%m%d"))
        yield _row("date_of_birth", day.strftime("%Y%m%d"), None, day.strftime("%Y%m%d"))


def rows() -> Iterator[dict[str, str | None]]:
    rng = random.Random(12)
    yield from phones(rng)
    yield from countries()
    yield from states()
    yield from zips()
    yield from dates(rng)


def render() -> str:
    """The corpus as JSON lines, duplicates left out."""
    lines = dict.fromkeys(json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows())
    return "".join(line + "\n" for line in lines)


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in LIBRARIES}


def main() -> None:
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    text = render()
    TARGET.write_text(text, encoding="utf-8")
    VERSIONS.write_text(json.dumps(versions(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {text.count(chr(10))} rows to {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
