"""Countries and US states by name or code, from ISO 3166 (:mod:`pycountry`), for the contact normalisers.

The indexes are built once at import from pycountry's ISO 3166-1 records (alpha-2, alpha-3, name, official
name, common name) and ISO 3166-2 US subdivisions. Lookups go through :func:`lookup_key` (accents, case,
spaces and punctuation ignored). A few spellings that ISO does not list but customer files use (``UK``,
``England``, ``Turkey``) are in :data:`_ALIASES`; names in other languages (``Deutschland``, ``España``) come
from pycountry's translations, loaded on the first lookup that needs them.
"""

from __future__ import annotations

import functools
import gettext
import re
import unicodedata
from collections.abc import Iterable, Iterator

import pycountry

# Spellings in common use that ISO 3166-1 does not give (former, short or constituent-country names) and
# Kosovo, which ISO has not coded but phone numbering, Meta and CLDR use as XK.
_ALIASES = {
    "gb": "UK; U.K.; Great Britain; Britain; England; Scotland; Wales; Northern Ireland",
    "us": "U.S.; U.S.A.; America; United States of America",
    "tr": "Turkey",
    "ru": "Russia",
    "kr": "Korea",
    "nl": "Holland",
    "cz": "Czech Republic",
    "ci": "Ivory Coast",
    "mm": "Burma",
    "sz": "Swaziland",
    "cv": "Cape Verde",
    "tl": "East Timor",
    "mk": "Macedonia",
    "mo": "Macau",
    "bn": "Brunei",
    "ae": "UAE",
    "ba": "Bosnia",
    "cd": "DR Congo; DRC; Congo-Kinshasa",
    "cg": "Congo-Brazzaville",
    "ps": "Palestine",
    "va": "Vatican; Vatican City",
    "vi": "US Virgin Islands; U.S. Virgin Islands",
    "xk": "Kosovo",
}
#: codes outside ISO 3166-1 that are accepted as codes (alpha-2 and alpha-3)
_EXTRA_CODES = {"xk": "xk", "xkx": "xk"}
#: pycountry translations searched for names in other languages (the languages of the relay's markets)
_NAME_LANGUAGES = (
    "de fr es it pt pt_BR nl pl sv da nb_NO fi cs sk hu ro el tr ru uk ja zh_CN zh_TW ko".split()
)
# Armed Forces "states" of US postal addresses (USPS codes, not ISO 3166-2) and names people write for DC
_US_STATE_ALIASES = {
    "aa": "Armed Forces Americas",
    "ae": "Armed Forces Europe",
    "ap": "Armed Forces Pacific",
    "dc": "Washington DC; Washington D.C.; Washington, District of Columbia",
    "vi": "US Virgin Islands; U.S. Virgin Islands; Virgin Islands",
}
#: countries writing dates month first (2/16/1997)
MONTH_FIRST_COUNTRIES = frozenset({"us", "um", "as", "gu", "mp", "pr", "vi", "ph", "fm", "mh", "pw", "ca"})
#: "states" mapped to their two-letter code under these countries (the US and its territories)
US_STATE_COUNTRIES = frozenset({"us", "pr", "gu", "vi", "as", "mp", "um"})
_CODE = re.compile(r"[A-Za-z]{2,3}")
_QUALIFIER = re.compile(r"\s*\([^)]*\)|,.*")


#: Latin letters without a decomposition, folded to what people type instead (Turkish dotless i, Polish l)
_FOLD = str.maketrans(
    {"\u0131": "i", "\u0142": "l", "\xf8": "o", "\u0111": "d", "\xdf": "ss", "\xe6": "ae", "\u0153": "oe"}
)


def lookup_key(value: str) -> str:
    """``value`` reduced to a lookup key: accents removed, lowercase, letters a-z and other scripts only."""
    decomposed = unicodedata.normalize("NFKD", value.lower().translate(_FOLD))
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def _names(country: object) -> Iterator[str]:
    for attribute in ("name", "official_name", "common_name"):
        name = getattr(country, attribute, None)
        if name:
            yield name


def _unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """key → code for the keys that name one code only (``Virgin Islands`` names two: it is left out)."""
    found: dict[str, set[str]] = {}
    for key, code in pairs:
        if key:
            found.setdefault(key, set()).add(code)
    return {key: codes.pop() for key, codes in found.items() if len(codes) == 1}


def _country_index() -> tuple[dict[str, str], dict[str, str]]:
    codes = dict(_EXTRA_CODES)
    names: dict[str, str] = {}
    shortened: list[tuple[str, str]] = []
    for country in pycountry.countries:
        alpha2 = country.alpha_2.lower()
        codes[alpha2] = codes[country.alpha_3.lower()] = alpha2
        for name in _names(country):
            names[lookup_key(name)] = alpha2
            # "Bolivia, Plurinational State of" → "Bolivia"; "Holy See (Vatican City State)" → "Holy See"
            shortened.append((lookup_key(_QUALIFIER.sub("", name)), alpha2))
    for alpha2, spellings in _ALIASES.items():
        names.update(dict.fromkeys(map(lookup_key, spellings.split("; ")), alpha2))
    for key, alpha2 in _unique(shortened).items():
        names.setdefault(key, alpha2)
    return codes, names


@functools.cache
def us_states() -> dict[str, str]:
    """Lookup key of a US state, DC, territory or Armed Forces "state", by name or code → two-letter code.

    Built on first use: pycountry's ISO 3166-2 data takes about 40 ms to load.
    """
    states: dict[str, str] = {}
    for subdivision in pycountry.subdivisions:
        if subdivision.country_code != "US":
            continue
        code = subdivision.code.split("-")[1].lower()
        states[code] = states[lookup_key(subdivision.name)] = code
    for code, spellings in _US_STATE_ALIASES.items():
        states[code] = code
        states.update(dict.fromkeys(map(lookup_key, spellings.split("; ")), code))
    return states


#: lowercase alpha-2 or alpha-3 code → alpha-2
COUNTRY_CODES: dict[str, str]
#: lookup key of an English name, official or common name, or alias → alpha-2
COUNTRY_NAMES: dict[str, str]
COUNTRY_CODES, COUNTRY_NAMES = _country_index()


@functools.cache
def translated_country_names() -> dict[str, str]:
    """Lookup key of a country's name in one of :data:`_NAME_LANGUAGES` → alpha-2 (unambiguous ones only).

    Loaded on first use (about 0.1 s): most values are found in the English index first.
    """
    pairs: list[tuple[str, str]] = []
    for language in _NAME_LANGUAGES:
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        for country in pycountry.countries:
            alpha2 = country.alpha_2.lower()
            pairs.extend((lookup_key(translation.gettext(name)), alpha2) for name in _names(country))
    return {key: code for key, code in _unique(pairs).items() if key not in COUNTRY_NAMES}


def country_code(value: str) -> str | None:
    """Lowercase alpha-2 of a code written as a code (``DE``, ``deu``), or of a name (``Deutschland``).

    Codes must be written as bare letters: ``N/A`` is not Namibia (``NA``).
    """
    text = value.strip()
    if _CODE.fullmatch(text):
        found = COUNTRY_CODES.get(text.lower())
        if found is not None:
            return found
    key = lookup_key(text)
    if len(key) <= 3 and not text.isalpha():
        # "U.S.", "U.K." are names of the alias table; other short punctuated values ("N/A") are not codes
        return COUNTRY_NAMES.get(key) if key in ("us", "usa", "uk") else None
    found = COUNTRY_NAMES.get(key)
    if found is None and key.startswith("the"):
        found = COUNTRY_NAMES.get(key[3:])  # "The Netherlands", "the Gambia"
    if found is None and (len(key) > 3 or not key.isascii()):
        found = translated_country_names().get(key)
    return found


__all__ = [
    "COUNTRY_CODES",
    "COUNTRY_NAMES",
    "MONTH_FIRST_COUNTRIES",
    "US_STATE_COUNTRIES",
    "country_code",
    "lookup_key",
    "translated_country_names",
    "us_states",
]
