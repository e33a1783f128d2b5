"""Phone numbers as E.164 digits, the form Meta hashes (``+`` is added for X and TikTok).

Parsing and validation are libphonenumber's (the :mod:`phonenumbers` port): national formats, trunk
prefixes (``0``, Hungary's ``06``, Russia's ``8``), international call prefixes (``00``, ``011``), Argentine
mobiles (``011 15-...`` → ``+54 9 11 ...``), extensions (dropped), digits of other scripts.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from relay.normalize.contact import normalize_country
from relay.normalize.phonefast import NOT_PLAIN, plain_e164

_NANP_WRITTEN = re.compile(r"\(\s*[2-9]\d\d\s*\)\s*[2-9]\d\d\s*[-.]?\s*\d{4}")
_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MAX_INPUT = 100  # phonenumbers refuses 250+; a phone number with its extension is far shorter
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")


def normalize_phone(v: str, country: str | None = None) -> str | None:
    """Phone: E.164 digits without ``+`` (``(650)555-1212`` with ``US`` → ``16505551212``), or ``None``.

    A number without ``+`` is read in the country's national format (``country``: alpha-2, alpha-3 or name);
    failing that, or without a country, as an international number written without its ``+``. A number read
    that way must be valid by libphonenumber's metadata (``12345`` in the UK is not ``+44 12345``); one
    written with ``+`` must be possible (a length its calling code allows), as it is taken as given.
    Without a country, the North American way of writing, ``(650) 555-1212``, implies +1 (Meta's docs
    example).
    """
    text = v.strip()
    if not text or len(text) > _MAX_INPUT:
        return None
    region = _region(country)
    if region is None and _NANP_WRITTEN.fullmatch(text):
        region = "US"
    digits = _NOT_ASCII_DIGIT.sub("", text) if text.isascii() else phonenumbers.normalize_digits_only(text)
    if text.startswith(("+", "\uff0b")):
        return _e164(text, region, written_in_full=True) or _mexican(digits, region)
    # an international number written without "+" ("44 20 7946 0958", "0044 ...") is tried first when
    # the country writes national numbers with a trunk prefix and this one has none but starts with the
    # country's code ("4915123456789" in Germany), after the national reading otherwise
    code, trunk = _prefixes(region) if region is not None else ("", None)
    first = bool(code and trunk) and digits.startswith(code) and not digits.startswith(trunk or "")
    number = _e164("+" + digits, None) if first else None
    if number is None and region is not None:
        number = _e164(text, region)
    if number is None and not first and (international := _without_call_prefix(digits)):
        number = _e164("+" + international, None)
    return number or _mexican(digits, region)


def _without_call_prefix(digits: str) -> str | None:
    """The digits of a number written internationally without its ``+``: as they are, or after the
    ``00`` international call prefix. None when they start with a single ``0``: that is a trunk prefix, the
    number is a national one (``01 55 1234 5678`` is Mexico City, never ``+1 551 234 5678``)."""
    rest = digits[2:] if digits.startswith("00") else digits
    return rest if rest and not rest.startswith("0") else None


#: Mexico's dialling before August 2019, which customer lists still hold (libphonenumber no longer reads
#: it): ``01`` (national) or ``044``/``045`` (mobile) before the 10 digits, ``1`` after +52 for a mobile
_MX_NATIONAL = re.compile(r"(?:01|04[45])(\d{10})")
_MX_MOBILE = re.compile(r"(?:00)?521(\d{10})")


def _mexican(digits: str, region: str | None) -> str | None:
    """E.164 digits of a number in Mexico's former dialling (see :data:`_MX_NATIONAL`), else None."""
    match = _MX_MOBILE.fullmatch(digits) or (_MX_NATIONAL.fullmatch(digits) if region == "MX" else None)
    return _e164("+52" + match[1], None) if match else None


def _e164(text: str, region: str | None, *, written_in_full: bool = False) -> str | None:
    """E.164 digits of ``text`` if :func:`_valid`: read by :mod:`relay.normalize.phonefast` when written
    plainly (digits, spaces, dashes, dots, brackets), else by libphonenumber."""
    fast = plain_e164(text, region, written_in_full=written_in_full)
    if fast is not NOT_PLAIN:
        return fast
    number = _valid(text, region, written_in_full=written_in_full)
    return None if number is None else phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def _region(country: str | None) -> str | None:
    """The libphonenumber region of ``country``: an ISO code or name, or a region without one (AC, TA)."""
    if not country:
        return None
    if country.upper() in _REGIONS:
        return country.upper()
    code = normalize_country(country)
    return code.upper() if code is not None and code.upper() in _REGIONS else None


@functools.lru_cache(maxsize=512)
def _prefixes(region: str) -> tuple[str, str | None]:
    """(calling code, national trunk prefix) of ``region``: ``("49", "0")`` for Germany."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return "", None
    return str(metadata.country_code), metadata.national_prefix


def _valid(text: str, region: str | None, *, written_in_full: bool = False) -> PhoneNumber | None:
    """The number ``text`` stands for if it is valid; one written in full with ``+`` only needs to be
    possible (a known calling code and a length its plan allows): nothing was guessed about it, and it may be
    in a range newer than the installed metadata."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return number
    return number if written_in_full and phonenumbers.is_possible_number(number) else None


__all__ = ["normalize_phone"]
