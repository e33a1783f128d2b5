"""relay.normalize.phonefast against libphonenumber itself: the same answer for every plainly written number.

Every region's example numbers (fixed line, mobile, toll free, and the non-geographic entities') are written
the ways customer files write them, with typos, read in their own region and in others, with and without
"written in full". The fast path may decline a number (NOT_PLAIN), never answer differently.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from relay.normalize.phonefast import NOT_PLAIN, plain_e164

pytestmark = pytest.mark.unit

_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)


def _reference(text: str, region: str | None, written_in_full: bool) -> str | None:
    """What relay.normalize.phone asked libphonenumber before the fast path existed."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if phonenumbers.is_valid_number(number) or (written_in_full and phonenumbers.is_possible_number(number)):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    return None


def _examples() -> Iterator[tuple[str | None, PhoneNumber]]:
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                yield region, number
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        found = phonenumbers.example_number_for_non_geo_entity(code)
        if found is not None:
            yield None, found


def _typo(rng: random.Random, digits: str) -> str:
    at = rng.randrange(len(digits))
    return digits[:at] + rng.choice("0123456789") + digits[at + 1 :]


def _writings(rng: random.Random, number: PhoneNumber) -> list[str]:
    nsn = phonenumbers.national_significant_number(number)
    code = str(number.country_code)
    return [
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        nsn,
        "0" + nsn,
        code + nsn,
        "00" + code + nsn,
        "011 " + code + " " + nsn,
        f"+{code} (0) {nsn}",
        f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}",
        "+" + _typo(rng, code + nsn),
        _typo(rng, nsn) + "1",
        nsn[:3],
        "+0" + code + nsn,
    ]


def test_the_fast_path_answers_as_libphonenumber() -> None:
    rng = random.Random(15)
    checked = declined = 0
    wrong: list[tuple[str, str | None, bool, str | None, str | None]] = []
    for home, number in _examples():
        for text in _writings(rng, number):
            for region in {home, None, "US", "DE"}:
                for written_in_full in (False, True):
                    fast = plain_e164(text, region, written_in_full=written_in_full)
                    if fast == NOT_PLAIN:
                        declined += 1
                        continue
                    checked += 1
                    expected = _reference(text, region, written_in_full)
                    if fast != expected:
                        wrong.append((text, region, written_in_full, expected, fast))
    assert wrong == []
    assert checked > 20_000
    assert declined < checked / 5  # the fast path reads most numbers, or it is no faster


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+1 (650) 555-1212", None, "16505551212"),
        ("(650) 555-1212", "US", "16505551212"),
        ("020 7946 0958", "GB", "442079460958"),
        ("0044 20 7946 0958", "DE", "442079460958"),
        ("12345", "GB", None),
        ("+44 (0)20 7946 0958", None, "442079460958"),
    ],
)
def test_plain_numbers(text: str, region: str | None, expected: str | None) -> None:
    assert plain_e164(text, region, written_in_full=text.startswith("+")) == expected
    assert _reference(text, region, text.startswith("+")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "+1 650 555 1212 ext. 3",
        "\uff11\uff16\uff15\uff10\uff15\uff15\uff15\uff11\uff12\uff11\uff12",
        "tel:+16505551212",
        "12",
        "+0 44 20",
    ],
)
def test_other_writings_are_left_to_libphonenumber(text: str) -> None:
    assert plain_e164(text, "US") == NOT_PLAIN
