"""libphonenumber's parse, validation and E.164 formatting, step for step, for plainly written numbers.

A phone of an audience file is almost always ASCII digits with spaces, dashes, dots or brackets, maybe after
``+``. For those, :func:`plain_e164` answers what ``phonenumbers.parse`` + ``is_valid_number`` (or
``is_possible_number``) + ``format_number(E164)`` answer, with the metadata's patterns compiled once per
region instead of looked up per call: about 8x faster. Anything else (letters, other scripts' digits, a
``+0``, an unknown calling code, fewer than 3 digits) gets :data:`NOT_PLAIN`, and
:mod:`relay.normalize.phone` asks libphonenumber itself. ``tests/unit/test_phonefast.py`` compares both
on every region's example numbers written in several ways.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.phonemetadata import PhoneNumberDesc

#: the answer for a number this module does not read; libphonenumber decides it
NOT_PLAIN: Final = "not plain"
_PLAIN = re.compile(r"\+?[0-9 ().\-]*", re.ASCII)
_NOT_DIGIT = re.compile(r"[^0-9]")
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's _MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN
_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _TOO_LONG, _INVALID = range(5)
_NON_GEO = "001"
_CALLING_CODES = frozenset(map(str, COUNTRY_CODE_TO_REGION_CODE))


@dataclass(frozen=True, slots=True)
class _Desc:
    """One PhoneNumberDesc: its possible lengths (empty: any) and compiled national number pattern."""

    lengths: frozenset[int]
    pattern: re.Pattern[str] | None

    def matches(self, nsn: str) -> bool:
        """``_is_number_matching_desc``: the length is possible and the pattern matches in full."""
        if self.lengths and len(nsn) not in self.lengths:
            return False
        return self.pattern is not None and self.pattern.fullmatch(nsn) is not None


@dataclass(frozen=True, slots=True)
class _Rules:
    """What parsing and validating a number needs of one region's metadata, compiled."""

    country_code: int
    general: re.Pattern[str] | None
    general_desc: _Desc
    #: by length of the number: one alternation of the type patterns (premium rate, toll free, ..., fixed
    #: line, mobile) that allow that length, or None when none does
    typed: tuple[re.Pattern[str] | None, ...]
    leading_digits: re.Pattern[str] | None
    idd: re.Pattern[str]
    national_prefix: re.Pattern[str] | None
    transform: str | None
    possible: tuple[int, ...]
    local_only: frozenset[int]

    def valid(self, nsn: str) -> bool:
        """``_number_type_helper(nsn, metadata) != UNKNOWN``."""
        if len(nsn) > _MAX_NSN or not self.general_desc.matches(nsn):
            return False
        typed = self.typed[len(nsn)]
        return typed is not None and typed.fullmatch(nsn) is not None

    def general_match(self, number: str) -> bool:
        """``_match_national_number(number, general_desc, False)``."""
        return self.general is not None and self.general.fullmatch(number) is not None

    def length(self, nsn: str) -> int:
        """``_test_number_length(nsn, metadata)`` for an unknown type."""
        size, possible = len(nsn), self.possible
        if size in self.local_only:
            return _LOCAL_ONLY
        if possible[0] == size:
            return _POSSIBLE
        if possible[0] > size:
            return _TOO_SHORT
        if possible[-1] < size:
            return _TOO_LONG
        return _POSSIBLE if size in possible[1:] else _INVALID

    def strip_national_prefix(self, number: str) -> str:
        """``_maybe_strip_national_prefix_carrier_code`` without the carrier code."""
        if not number or self.national_prefix is None:
            return number
        found = self.national_prefix.match(number)
        if found is None:
            return number
        viable = self.general_match(number)
        groups = found.groups()
        if not self.transform or groups[len(groups) - 1] is None:
            rest = number[found.end() :]
        else:
            rest = self.national_prefix.sub(self.transform, number, count=1)
        return number if viable and not self.general_match(rest) else rest


def _desc(desc: PhoneNumberDesc | None) -> _Desc:
    if desc is None:
        return _Desc(frozenset(), None)
    pattern = desc.national_number_pattern
    return _Desc(frozenset(desc.possible_length), re.compile(pattern) if pattern else None)


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


#: the descriptions any of which makes a number valid (``_number_type_helper``: mobile only when its pattern
#: differs from the fixed-line one)
_TYPES = "premium_rate toll_free shared_cost voip personal_number pager uan voicemail fixed_line".split()


def _typed(metadata: PhoneMetadata) -> tuple[re.Pattern[str] | None, ...]:
    """For each length up to the longest national number, the type patterns allowing it as one alternation:
    a full match of ``(?:a)|(?:b)`` is a full match of ``a`` or of ``b`` (the patterns have no groups)."""
    names = _TYPES if metadata.same_mobile_and_fixed_line_pattern else [*_TYPES, "mobile"]
    descs = [desc for desc in map(metadata.__getattribute__, names) if desc is not None]
    by_length: list[re.Pattern[str] | None] = []
    for size in range(_MAX_NSN + 1):
        patterns = [
            f"(?:{desc.national_number_pattern})"
            for desc in descs
            if desc.national_number_pattern and (not desc.possible_length or size in desc.possible_length)
        ]
        by_length.append(re.compile("|".join(patterns)) if patterns else None)
    return tuple(by_length)


@functools.cache
def _rules(country_code: int, region: str) -> _Rules | None:
    """The compiled rules of ``region`` (``001``: of the non-geographic ``country_code``)."""
    if region == _NON_GEO:
        metadata = PhoneMetadata.metadata_for_nongeo_region(country_code, None)
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None)
    general = metadata.general_desc if metadata is not None else None
    if metadata is None or general is None or metadata.country_code is None:
        return None  # (every region's metadata has both)
    return _Rules(
        country_code=metadata.country_code,
        general=_compiled(general.national_number_pattern),
        general_desc=_desc(general),
        typed=_typed(metadata),
        leading_digits=_compiled(metadata.leading_digits),
        idd=re.compile(metadata.international_prefix or "NonMatch"),
        national_prefix=_compiled(metadata.national_prefix_for_parsing),
        transform=metadata.national_prefix_transform_rule,
        possible=tuple(general.possible_length),
        local_only=frozenset(general.possible_length_local_only),
    )


def _main_rules(country_code: int) -> _Rules | None:
    return _rules(country_code, COUNTRY_CODE_TO_REGION_CODE[country_code][0])


def _calling_code(digits: str) -> tuple[int, str]:
    """``_extract_country_code``: (calling code, rest), or ``(0, digits)``."""
    if not digits or digits[0] == "0":
        return 0, digits
    for size in (1, 2, 3):
        if size > len(digits):
            break
        if digits[:size] in _CALLING_CODES:
            return int(digits[:size]), digits[size:]
    return 0, digits


def _is_valid(country_code: int, nsn: str) -> bool:
    """``is_valid_number``: valid for the region the number belongs to."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None:
        return False
    rules: _Rules | None = None
    if len(regions) == 1:
        rules = _rules(country_code, regions[0])
    else:
        for region in regions:
            candidate = _rules(country_code, region)
            if candidate is None:
                continue
            leading = candidate.leading_digits
            if (leading.match(nsn) is not None) if leading is not None else candidate.valid(nsn):
                rules = candidate
                break
    return rules is not None and rules.country_code == country_code and rules.valid(nsn)


def _is_possible(country_code: int, nsn: str) -> bool:
    """``is_possible_number``: a length the calling code's main region allows."""
    rules = _main_rules(country_code)
    return rules is not None and rules.length(nsn) in (_POSSIBLE, _LOCAL_ONLY)


def _parse(digits: str, plus: bool, region: str | None) -> tuple[int, str] | str | None:
    """``parse``: (calling code, national significant number), ``None`` when it raises, or NOT_PLAIN."""
    if plus:
        code, national = _calling_code(digits)
        if code == 0:
            return NOT_PLAIN  # "+0..." and unknown codes are retried without the "+" by libphonenumber
        rules = _main_rules(code)
    else:
        home = _rules(0, region) if region is not None else None
        found = _national(digits, home) if home is not None else None
        if found is None:
            return None  # no region to read a national number in, or a bad international prefix
        code, national, rules = found
    if rules is None:
        return NOT_PLAIN
    if len(national) < _MIN_NSN:
        return None
    potential = rules.strip_national_prefix(national)
    if rules.length(potential) not in (_TOO_SHORT, _LOCAL_ONLY, _INVALID):
        national = potential
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    return code, national


def _national(digits: str, home: _Rules) -> tuple[int, str, _Rules | None] | None:
    """``_maybe_extract_country_code`` for a number without ``+``: an international prefix (``00``,
    ``011``), the region's own calling code written without ``+``, or a national number; ``None`` when
    libphonenumber raises (nothing or no calling code after the international prefix)."""
    idd = home.idd.match(digits)
    if idd is not None and not digits[idd.end() :].startswith("0"):
        rest = digits[idd.end() :]
        code, national = _calling_code(rest) if len(rest) > _MIN_NSN else (0, "")
        return (code, national, _main_rules(code)) if code else None
    own = str(home.country_code)
    if digits.startswith(own):
        potential = home.strip_national_prefix(digits[len(own) :])
        general = home.general_match
        if (not general(digits) and general(potential)) or home.length(digits) == _TOO_LONG:
            return home.country_code, potential, _main_rules(home.country_code)
    return home.country_code, digits, home


def plain_e164(text: str, region: str | None, *, written_in_full: bool = False) -> str | None:
    """E.164 digits (no ``+``) of ``text`` read in ``region`` if valid (written in full: possible), ``None``
    if libphonenumber would refuse it, :data:`NOT_PLAIN` if it is not written plainly enough to read here."""
    if _PLAIN.fullmatch(text) is None:
        return NOT_PLAIN
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) < 3:
        return NOT_PLAIN  # two digits alone are viable, "1 2" is not: libphonenumber decides
    parsed = _parse(digits, text.startswith("+"), region)
    if parsed is None or isinstance(parsed, str):
        return parsed
    code, nsn = parsed
    if _is_valid(code, nsn) or (written_in_full and _is_possible(code, nsn)):
        return f"{code}{nsn}"
    return None


__all__ = ["NOT_PLAIN", "plain_e164"]
