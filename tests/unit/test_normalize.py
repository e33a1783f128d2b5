"""Contact-detail normalisation and hashing (relay.normalize) against the public vectors and edge cases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.normalize import (
    digest_of,
    hash_user,
    is_hashed,
    member_from_row,
    normalize_city,
    normalize_country,
    normalize_date_of_birth,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_madid,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
    sha256_hex,
)
from relay.types import HASHED_KEYS, AudienceMember

pytestmark = pytest.mark.unit

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HASH_FORM = re.compile(r"[0-9a-f]{64}(\.[A-Za-z0-9_-]+)?")

#: vector field -> (user key of hash_user, normaliser used with country "US" where it takes one)
FIELDS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "em": ("email", normalize_email),
    "ph": ("phone", lambda v: normalize_phone(v, "US")),
    "fn": ("first_name", normalize_name),
    "ln": ("last_name", normalize_name),
    "ge": ("gender", normalize_gender),
    "db": ("date_of_birth", normalize_date_of_birth),
    "ct": ("city", normalize_city),
    "st": ("state", lambda v: normalize_state(v, "US")),
    "zp": ("zip", lambda v: normalize_zip(v, None)),
    "country": ("country", normalize_country),
}

#: (field, input) of every entry of meta_docs_examples.json; a test checks that none is missing
META_ENTRIES = [
    ("em", "John_Smith@gmail.com"),
    ("ph", "(650)555-1212"),
    ("ph", "+1 (650) 555-1212"),
    ("fn", "Mary"),
    ("fn", "\uc815"),
    ("fn", "Val\u00e9ry"),
    ("ln", "Vale\u0301ry"),
    ("db", "2/16/1997"),
    ("db", "19970216"),
    ("country", "United States"),
    ("country", "US"),
    ("ge", "f"),
    ("ge", "m"),
    ("ct", "paris"),
    ("ct", "London"),
    ("ct", "New York"),
    ("st", "AZ"),
    ("st", "ca"),
    ("zp", "94035"),
    ("zp", "1987"),
    ("zp", "75018"),
    ("zp", "M1 1AE"),
    ("ph", "12345678901"),
    ("ph", "16505551234"),
]

#: (field, normalized_input) of every entry of x_hashing_vectors.json
X_ENTRIES = [
    ("hashed_email", "test@twitter.com"),
    ("hashed_email", "test-email@test.com"),
    ("hashed_phone_number", "+11234567890"),
    ("handle", "adsapi"),
    ("(negative control)", "27674040"),
]


def _meta_vectors(vectors_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    entries = json.loads((vectors_dir / "meta_docs_examples.json").read_text(encoding="utf-8"))
    return {(e["field"], e["input"]): e for e in entries}


def _x_vectors(vectors_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    entries = json.loads((vectors_dir / "x_hashing_vectors.json").read_text(encoding="utf-8"))["vectors"]
    return {(e["field"], e["normalized_input"]): e for e in entries}


def test_every_vector_is_covered(vectors_dir: Path) -> None:
    assert sorted(_meta_vectors(vectors_dir)) == sorted(META_ENTRIES)
    assert sorted(_x_vectors(vectors_dir)) == sorted(X_ENTRIES)


@pytest.mark.parametrize("key", META_ENTRIES, ids=[f"{f}-{i!a}" for f, i in META_ENTRIES])
def test_meta_docs_vector(vectors_dir: Path, key: tuple[str, str]) -> None:
    entry = _meta_vectors(vectors_dir)[key]
    user_key, normalizer = FIELDS[entry["field"]]
    assert normalizer(entry["input"]) == entry["expected_normalized"]
    assert sha256_hex(entry["expected_normalized"]) == entry["expected_sha256"]
    # through hash_user too, with a default country that must not disturb non-US values (zip 1987)
    hashed = hash_user({user_key: entry["input"]}, default_country="US")
    assert hashed.hashed[entry["field"]] == [entry["expected_sha256"]]
    assert hashed.problems == []


@pytest.mark.parametrize("key", X_ENTRIES, ids=[f"{f}-{i}" for f, i in X_ENTRIES])
def test_x_hashing_vector(vectors_dir: Path, key: tuple[str, str]) -> None:
    entry = _x_vectors(vectors_dir)[key]
    value = entry["normalized_input"]
    if not entry["verified"]:  # salted doc examples: plain SHA-256 must NOT reproduce them
        assert sha256_hex(value) != entry["sha256_claimed_by_doc"]
        return
    assert sha256_hex(value) == entry["sha256"]
    if entry["field"] == "hashed_email":
        assert hash_user({"email": value.upper()}).hashed["em"] == [entry["sha256"]]
    elif entry["field"] == "hashed_phone_number":
        hashed = hash_user({"phone": "+1 (123) 456-7890"}).hashed
        assert hashed["ph_e164"] == [entry["sha256"]]
        assert hashed["ph"] == [sha256_hex(value.lstrip("+"))]


def test_x_doc_bug_is_not_copied() -> None:
    """The X guide labels sha256('test@twitter.com') as the hash of 'test@x.com'."""
    assert hash_user({"email": "test@x.com"}).hashed["em"] == [
        "5806dc6b2f04fb728708a8f7b81c14edcd4fba36f77914cf0c9368d9a3a25f76"
    ]


def test_nfd_input_hashes_like_nfc() -> None:
    nfd = hash_user({"first_name": "Vale\u0301ry", "city": "Sa\u0303o Paulo"}).hashed
    nfc = hash_user({"first_name": "Val\u00e9ry", "city": "S\u00e3o Paulo"}).hashed
    assert nfd == nfc
    assert nfc["fn"] == [sha256_hex("val\u00e9ry")]
    assert nfc["ct"] == [sha256_hex("s\u00e3opaulo")]


def test_prehashed_values_pass_through_lowercased() -> None:
    digest = sha256_hex("jane@example.com")
    with_appendix = sha256_hex("16505551212").upper() + ".AQQCAQIB"
    user = {
        "email": f"  {digest.upper()} ",
        "phone": with_appendix,
        "first_name": digest,
        "date_of_birth": digest,
    }
    hashed = hash_user(user).hashed
    assert hashed == {
        "em": [digest],
        "ph": [sha256_hex("16505551212") + ".AQQCAQIB"],  # only under ph: its form is unknown
        "fn": [digest],  # no fi can be derived from a hash
        "db": [digest],  # nor doby/dobm/dobd
    }
    assert digest_of(hashed["ph"][0]) == sha256_hex("16505551212")
    assert is_hashed(digest.upper()) and is_hashed(with_appendix)
    assert not is_hashed(digest[:63]) and not is_hashed(digest + "0") and not is_hashed(digest + ".")


def test_empty_and_whitespace_values_are_dropped_never_hashed() -> None:
    user = {"email": "  ", "phone": "", "first_name": ["", " \t"], "city": "\n", "external_id": "   "}
    result = hash_user(user)
    assert result.hashed == {}
    assert result.problems == []
    assert normalize_external_id("  ") is None and normalize_name("") is None and normalize_email(" ") is None


def test_values_that_normalise_to_nothing_are_dropped_with_a_note() -> None:
    result = hash_user({"first_name": "!!!", "city": "12", "country": "Narnia", "email": "jane.doe@"})
    assert result.hashed == {}
    assert result.problems == [
        "email: not an email address, dropped",
        "first_name: no letters left, dropped",
        "city: no letters left, dropped",
        "country: unknown country, dropped",
    ]
    assert all("jane" not in p for p in result.problems)  # notes carry no PII
    assert EMPTY_SHA256 not in str(hash_user({"last_name": "-", "zip": " - "}).hashed)


def test_lists_are_deduplicated_in_order() -> None:
    user = {
        "email": ["B@example.com", "a@example.com", " b@EXAMPLE.com", None],
        "phone": ["+1 650 555 0000", "+1 (650) 555-1212", "16505550000"],
        "first_name": ["Anne", "anne", "Bob"],
    }
    hashed = hash_user(user).hashed
    assert hashed["em"] == [sha256_hex("b@example.com"), sha256_hex("a@example.com")]
    assert hashed["ph"] == [sha256_hex("16505550000"), sha256_hex("16505551212")]
    assert hashed["ph_e164"] == [sha256_hex("+16505550000"), sha256_hex("+16505551212")]
    assert hashed["fn"] == [sha256_hex("anne"), sha256_hex("bob")]
    assert hashed["fi"] == [sha256_hex("a"), sha256_hex("b")]


def test_full_user_produces_every_key() -> None:
    user = {
        "email": "Jane.Doe@Example.com",
        "phone": "(650) 555-1212",
        "first_name": "Jane",
        "last_name": "Doe",
        "gender": "Female",
        "date_of_birth": "1990-02-16",
        "city": "Menlo Park",
        "state": "California",
        "zip": "94025-1234",
        "country": "United States",
        "external_id": " Cust-42 ",
        "ip": "203.0.113.9",
        "fbp": "fb.1.1596403881668.1116446470",
    }
    result = hash_user(user)
    expected = {
        "em": "jane.doe@example.com",
        "em_reddit": "janedoe@example.com",  # Reddit's form: no dots in the local part
        "ph": "16505551212",
        "ph_e164": "+16505551212",
        "fn": "jane",
        "ln": "doe",
        "fi": "j",
        "ge": "f",
        "db": "19900216",
        "doby": "1990",
        "dobm": "02",
        "dobd": "16",
        "ct": "menlopark",
        "st": "ca",
        "zp": "94025",
        "country": "us",
        "external_id": "cust-42",
    }
    assert result.hashed == {key: [sha256_hex(value)] for key, value in expected.items()}
    assert set(result.hashed) == set(HASHED_KEYS) - {"em_google"}  # not a gmail address
    assert result.problems == []


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(650)555-1212", "US", "16505551212"),
        ("650.555.1212", "us", "16505551212"),
        ("1-650-555-1212", "US", "16505551212"),
        ("+1 (650) 555-1212", None, "16505551212"),
        ("+1 (650) 555-1212", "GB", "16505551212"),
        ("(650) 555-1212", None, "16505551212"),  # the North American way of writing implies +1
        ("650-555-1212", None, None),  # no country, and +6505551212 is no number
        ("07400 123456", "GB", "447400123456"),  # trunk zero dropped, code added
        ("07400 123456", "United Kingdom", "447400123456"),
        ("07400 123456", "gbr", "447400123456"),
        ("7400 123456", "GB", "447400123456"),
        ("447400123456", "GB", "447400123456"),  # already has the code
        ("0044 7400 123456", None, "447400123456"),
        ("0044 7400 123456", "DE", "447400123456"),
        ("+44 (0)20 7946 0000", None, "442079460000"),
        ("011 44 7400 123456", "US", "447400123456"),
        ("0011 44 7400 123456", "AU", "447400123456"),
        ("(02) 9999 9999", "AU", "61299999999"),
        ("06 12 34 56 78", "FR", "33612345678"),
        ("33612345678", "FR", "33612345678"),
        ("0151 12345678", "DE", "4915112345678"),
        ("4915112345678", "DE", "4915112345678"),  # DE writes national numbers with 0: this has the code
        ("8 (916) 123-45-67", "RU", "79161234567"),
        ("06 1234 5678", "IT", "390612345678"),  # Italian numbers keep their 0
        ("393 123 4567", "IT", "393931234567"),  # Italy has no trunk prefix: a mobile starting 39 is national
        ("+39 06 1234 5678", None, "390612345678"),
        ("12345678901", "GB", "12345678901"),  # a foreign number written without +
        ("\uff0b\uff11 650 555 1212", None, "16505551212"),  # full-width
        ("\u0660\u0667\u0664\u0660\u0660 \u0661\u0662\u0663\u0664\u0665\u0666", "GB", "447400123456"),
        # issue 12: extensions dropped, trunk prefixes other than 0, Argentine mobiles, impossible numbers
        ("+61 412 349 431 ext. 123", None, "61412349431"),
        ("(650) 555-1212 x45", "US", "16505551212"),
        ("06 30 123 4567", "HU", "36301234567"),
        ("011 15-2345-1815", "AR", "5491123451815"),
        ("+54 9 11 2345-1815", None, "5491123451815"),
        ("62889", "AC", "24762889"),  # Ascension: a numbering region without an ISO 3166-1 code
        ("12345", "GB", None),
        ("07700 900123", "GB", None),  # Ofcom's range for drama: never a real phone
        # written in full with "+", a number only has to be possible (a range newer than the metadata, the
        # X docs' placeholder); read from a national form it must be valid
        ("+1 (123) 456-7890", None, "11234567890"),
        ("(123) 456-7890", "US", None),
        ("+1 650 555", None, None),  # too short for the North American plan
        ("44-12390821300A", None, None),
        ("123", "US", None),
        ("call me", None, None),
        ("+", None, None),
        ("1234567890123456", None, None),  # longer than E.164 allows
        ("+1 650 555 1212 / " + "1" * 200, None, None),  # longer than any written phone number
    ],
)
def test_normalize_phone(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # a single leading 0 is a trunk prefix: never dropped to read the rest as another country's number
        ("01 55 1234 5678", "MX", "525512345678"),  # Mexico's former national prefix, not +1 551...
        ("044 55 1234 5678", "MX", "525512345678"),  # its former mobile prefixes, not +44 5512...
        ("045 33 1234 5678", "Mexico", "523312345678"),
        ("+52 1 55 1234 5678", None, "525512345678"),  # the former mobile 1 after +52
        ("5215512345678", None, "525512345678"),
        ("01512 3456789", None, None),  # a German mobile without its country: not +1 512 (Austin, TX)
        ("01512 3456789", "US", None),
        ("043 012 345", "US", None),  # Bulgaria's national form: not +43 (Austria)
        ("02033 12 3456", "US", None),  # Nigeria's: not +20 (Egypt)
        ("044 55 1234 5678", None, None),
        ("0044 7400 123456", None, "447400123456"),  # 00 is the international call prefix: still read
    ],
)
def test_a_trunk_prefix_never_makes_a_number_another_countrys(
    raw: str, country: str | None, expected: str | None
) -> None:
    assert normalize_phone(raw, country) == expected


def test_no_national_number_is_read_as_another_countrys_without_its_own() -> None:
    """Every region's example numbers written nationally with a trunk 0, read without a country or with
    another one, come out as None or as a number of the country given: never as the digits after the 0 read
    as an international number (the hash of somebody else's phone)."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None or metadata.national_prefix != "0":
            continue
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            if not national.lstrip("( ").startswith("0"):
                continue
            own = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
            assert normalize_phone(national, region) == own, (region, national)
            assert normalize_phone(national, None) is None, (region, national)
            for other in ("US", "GB", "DE", "FR", "BR", "IN"):
                if other == region:
                    continue
                code = str(phonenumbers.country_code_for_region(other))
                read = normalize_phone(national, other)
                assert read is None or read.startswith(code), (region, national, other, read)
            checked += 1
    assert checked > 150


def test_phone_country_comes_from_user_then_default() -> None:
    uk = sha256_hex("447400123456")
    assert hash_user({"phone": "07400 123456", "country": "GB"}, default_country="US").hashed["ph"] == [uk]
    assert hash_user({"phone": "07400 123456", "country": ["uk", "us"]}).hashed["ph"] == [uk]
    assert hash_user({"phone": "07400 123456"}, default_country="gb").hashed["ph"] == [uk]
    # an unusable user.country falls back to the default
    assert hash_user({"phone": "07400 123456", "country": "??"}, default_country="GB").hashed["ph"] == [uk]
    # without any country a national number is no number: dropped, not hashed as some other number
    nowhere = hash_user({"phone": "07400 123456"})
    assert "ph" not in nowhere.hashed
    assert nowhere.problems == ["phone: not a phone number, dropped"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1997-02-16", "19970216"),
        ("1997-2-6", "19970206"),
        ("1997/02/16", "19970216"),
        ("1997-02-16T08:30:00Z", "19970216"),
        ("2/16/1997", "19970216"),
        ("02/16/1997 12:00", "19970216"),
        ("16/02/1997", "19970216"),
        ("16.02.1997", "19970216"),
        ("01.02.1997", "19970201"),  # dots: day first
        ("01/02/1997", "19970102"),  # slashes, ambiguous: month first like the docs' example
        ("19970216", "19970216"),
        ("16021997", "19970216"),
        ("02161997", "19970216"),
        ("16 Feb 1997", "19970216"),
        ("February 16th, 1997", "19970216"),
        ("Sunday, 16 February 1997", "19970216"),
        ("16-feb-97", "19970216"),
        ("2/16/97", "19970216"),
        ("16. März 1962", "19620316"),
        ("1997年2月16日", "19970216"),
        ("1997年2月16日日曜日", "19970216"),
        ("１９９７年２月１６日", "19970216"),
        ("1997년 2월 16일 일요일", "19970216"),
        ("平成9年2月16日", "19970216"),
        ("平成元年2月16日", "19890216"),
        ("97年2月16日", None),  # century unknown
        ("9 janvier 1940", "19400109"),
        ("mar. 16 févr. 1997", "19970216"),  # mar: Tuesday in French, March in English
        ("16 de fevereiro de 1997", "19970216"),
        ("domingo, 16 de febrero de 1997", "19970216"),
        ("16 февраля 1997 \u0433.", "19970216"),
        ("16 lutego 1997 r.", "19970216"),
        ("16 Şubat 1997 Pazar", "19970216"),
        ("1997. február 16., vasárnap", "19970216"),
        ("16 Mayis 1997", "19970516"),
        ("2000-02-29", "20000229"),
        (" 1900-01-01 ", "19000101"),
        ("1899-12-31", None),
        ("2999-01-01", None),
        ("1997-02-30", None),
        ("1900-02-29", None),
        ("13/13/1997", None),
        ("1997", None),
        ("unknown", None),
        ("", None),
        ("1/2/" + "9" * 5000, None),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else None,
)
def test_normalize_date_of_birth(raw: str, expected: str | None) -> None:
    assert normalize_date_of_birth(raw) == expected


def test_date_order_follows_the_country_when_ambiguous() -> None:
    assert normalize_date_of_birth("01/02/1997", "DE") == "19970201"
    assert normalize_date_of_birth("01/02/1997", "US") == "19970102"
    assert hash_user({"date_of_birth": "01/02/1997", "country": "FR"}).hashed["db"] == [
        sha256_hex("19970201")
    ]


def test_invalid_date_is_dropped_with_a_note() -> None:
    result = hash_user({"date_of_birth": ["31/02/1990", "1990-02-16"]})
    assert result.hashed["db"] == [sha256_hex("19900216")]
    assert result.hashed["doby"] == [sha256_hex("1990")]
    assert result.problems == ["date_of_birth: not a date of birth between 1900 and this year, dropped"]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("94035", "US", "94035"),
        ("94035-1234", "US", "94035"),
        ("94035 1234", None, "94035"),
        ("940351234", "US", "94035"),
        ("940351234", None, "94035"),
        ("M1 1AE", "GB", "m11ae"),
        ("NR9 5AL", None, "nr95al"),
        ("1987", "US", "1987"),
        ("75018", "FR", "75018"),
        ("00-950", "PL", "00950"),  # no dash, and nothing cut outside the US
        ("100-0001", "JP", "1000001"),
        ("01310-100", "BR", "01310100"),
        ("01310-100", None, "01310100"),
        ("00501-0001", "usa", "00501"),
        ("N/A", "GB", None),
        (" - ", None, None),
    ],
)
def test_normalize_zip(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_zip(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("California", "US", "ca"),
        ("new york", "us", "ny"),
        ("Washington, D.C.", "US", "dc"),
        ("District of Columbia", None, "dc"),
        ("Hawai'i", "United States", "hi"),
        ("Puerto Rico", "PR", "pr"),
        ("TX", "US", "tx"),
        ("Bavaria", "DE", "bavaria"),
        ("Île-de-France", "FR", "îledefrance"),
        ("New South Wales", "AU", "newsouthwales"),
        ("Armed Forces Europe", "US", "ae"),
        ("N/A", "US", None),
        ("Virgin Islands, U.S.", "US", "vi"),
        ("...", "US", None),
    ],
)
def test_normalize_state(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_state(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "us"),
        ("United States", "us"),
        ("United States of America", "us"),
        ("U.S.A.", "us"),
        ("usa", "us"),
        ("UK", "gb"),
        ("Great Britain", "gb"),
        ("United Kingdom", "gb"),
        ("GBR", "gb"),
        ("Deutschland", "de"),
        ("Côte d'Ivoire", "ci"),
        ("the Netherlands", "nl"),
        ("Korea, Republic of", "kr"),
        ("Türkiye", "tr"),
        ("Union of the Comoros", "km"),
        ("Kingdom of the Netherlands", "nl"),
        ("Holy See (Vatican City State)", "va"),
        ("Holy See", "va"),
        ("Virgin Islands, U.S.", "vi"),
        ("Virgin Islands", None),  # British or U.S.: ambiguous
        ("Bolivia", "bo"),
        ("N/A", None),  # not Namibia
        ("n.a.", None),
        ("NA", "na"),
        ("nam", "na"),
        ("España", "es"),
        ("中国", "cn"),
        ("Kosovo", "xk"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_normalize_country(raw: str, expected: str | None) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("F", "f"),
        ("female", "f"),
        (" Woman ", "f"),
        ("M", "m"),
        ("Male", "m"),
        ("man", "m"),
        ("Männlich", "m"),
    ],
)
def test_normalize_gender(raw: str, expected: str) -> None:
    assert normalize_gender(raw) == expected


def test_unknown_gender_is_dropped() -> None:
    assert normalize_gender("nonbinary") is None
    assert hash_user({"gender": "x"}).problems == ["gender: not f or m, dropped"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John_Smith@Gmail.COM ", "john_smith@gmail.com"),
        ("not-an-email", None),
        ("a@b", None),
        ("two words@example.com", None),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mary", "mary"),
        ("Anne-Marie", "annemarie"),
        ("O'Brien", "obrien"),
        ("Mary Ann", "maryann"),
        ("정", "정"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_city_and_external_id() -> None:
    assert normalize_city("St. Louis") == "stlouis"
    assert normalize_city("서울") == "서울"
    assert normalize_external_id("  Cust-42 ") == "cust-42"
    assert hash_user({"external_id": "Cust-42"}).hashed["external_id"] == [sha256_hex("cust-42")]


def test_numbers_are_accepted_and_other_types_noted() -> None:
    result = hash_user({"phone": 16505551212, "zip": [94035.0, True], "city": {"name": "Paris"}})
    assert result.hashed == {
        "ph": [sha256_hex("16505551212")],
        "ph_e164": [sha256_hex("+16505551212")],
        "zp": [sha256_hex("94035")],
    }
    assert result.problems == ["city: not text, dropped", "zip: not text, dropped"]
    assert hash_user({"phone": 10**5000, "zip": float("nan")}).problems == [
        "phone: not text, dropped",
        "zip: not text, dropped",
    ]


def test_member_from_row() -> None:
    row = {
        "email": "Jane@Example.com",
        "phone": "07400 123456",
        "madid": " 6D92078A-8246-4BA4-AE5B-76104861E7DC ",
    }
    member, reason = member_from_row(row, default_country="GB")
    assert reason is None
    assert member == AudienceMember(
        hashed={
            "em": [sha256_hex("jane@example.com")],
            "ph": [sha256_hex("447400123456")],
            "ph_e164": [sha256_hex("+447400123456")],
        },
        madid="6d92078a-8246-4ba4-ae5b-76104861e7dc",
    )


def test_member_from_row_with_only_a_madid_or_a_name() -> None:
    assert member_from_row({"madid": "AB-CD", "email": None}) == (
        AudienceMember(hashed={}, madid="ab-cd"),
        None,
    )
    member, _ = member_from_row({"first_name": "Jane", "last_name": "Doe"})
    assert member is not None and set(member.hashed) == {"fn", "fi", "ln"}


def test_member_from_row_without_identifier() -> None:
    member, reason = member_from_row({"email": "nobody", "gender": "f", "madid": "", "country": "US"})
    assert member is None
    assert reason == (
        "no usable identifier (email, phone, external_id, madid or first and last name); "
        "email: not an email address, dropped"
    )
    assert normalize_madid("00000000-0000-0000-0000-000000000000") is None  # limit-ad-tracking id


_USER_KEYS = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "gender",
    "date_of_birth",
    "city",
    "state",
    "zip",
    "country",
    "external_id",
    "madid",
    "ip",
]
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
_DIGITISH = st.text(st.sampled_from("0123456789+-()./ \u0660\uff11aé"), max_size=25)
_VALUE = st.one_of(
    _ANY_TEXT,
    _DIGITISH,
    st.lists(st.one_of(_ANY_TEXT, _DIGITISH, st.none(), st.integers()), max_size=4),
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(user=st.dictionaries(st.sampled_from(_USER_KEYS), _VALUE), default=st.one_of(st.none(), _ANY_TEXT))
def test_hash_user_never_raises_and_only_yields_hashes(user: dict[str, Any], default: str | None) -> None:
    result = hash_user(user, default_country=default)
    assert set(result.hashed) <= set(HASHED_KEYS)
    for values in result.hashed.values():
        assert values, "no empty lists"
        assert len(set(values)) == len(values)
        for value in values:
            assert HASH_FORM.fullmatch(value), value
            assert value != EMPTY_SHA256
    assert all(isinstance(problem, str) for problem in result.problems)
    member, reason = member_from_row(user, default_country=default)
    assert (member is None) != (reason is None)


def test_audience_members_keep_googles_email_form_and_not_reddits() -> None:
    """An audience row is hashed for the audience connectors: Google's form of a gmail address (and of every
    other email beside it), never Reddit's (no audience connector sends it)."""
    member, reason = member_from_row({"email": ["first.last@example.com", "Jane.Doe@gmail.com"]})
    assert member is not None and reason is None
    assert "em_reddit" not in member.hashed
    assert member.hashed["em_google"] == [
        sha256_hex("first.last@example.com"),
        sha256_hex("janedoe@gmail.com"),
    ]
    assert hash_user({"email": "first.last@example.com"}).hashed["em_reddit"] == [
        sha256_hex("firstlast@example.com")
    ]
