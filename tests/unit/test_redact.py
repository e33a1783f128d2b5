"""E-mail addresses are redacted from URLs and ``custom`` values, in linear time; e-mails are normalised
in linear time."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from relay.normalize.contact import normalize_email
from relay.redact import redact_text, redact_url, redact_value
from relay.text import forbidden_character

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://shop.example/done?email=jane@example.com&x=1",
            "https://shop.example/done?email=[email]&x=1",
        ),
        ("https://shop.example/?e=jane.doe%40example.com", "https://shop.example/?e=[email]"),
        (
            "https://shop.example/?e=jane%2Btag%40Example.CO.uk&utm=a%20b",
            "https://shop.example/?e=[email]&utm=a%20b",
        ),
        ("https://shop.example/u/jane@example.com/orders?id=7", "https://shop.example/u/[email]/orders?id=7"),
        ("https://shop.example/#confirm=jane@example.com", "https://shop.example/#confirm=[email]"),
        ("https://shop.example/?jane@example.com", "https://shop.example/?[email]"),
        ("https://user:secret@shop.example/p", "https://shop.example/p"),
        ("https://shop.example/?q=hello%20jane@x.io%20bye", "https://shop.example/?q=hello%20[email]%20bye"),
        ("http://[::1/jane@x.com?a=1", "http://[::1/[email]?a=1"),  # not parseable: redacted as one piece
    ],
)
def test_addresses_are_redacted_from_urls(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/product/1?fbclid=IwAR2F4&utm_source=a%20b&x=%2F",
        "https://shop.example/a/b;c?d=e&f#g",
        "https://shop.example/@handle",  # an @ that is no address
        "https://shop.example/?at=a@b",
        "not even a url",
    ],
)
def test_urls_without_addresses_are_kept_byte_for_byte(url: str) -> None:
    assert redact_url(url) == url


def test_addresses_are_redacted_from_custom_values_and_keys() -> None:
    custom = {
        "note": "call jane.doe@example.com or j@x.io.",
        "list": ["a", "b+c@d.org"],
        "deep": {"who": "x@y.zz"},
        "jane@example.com": 1,
        "n": 2,
        "ok": "@twitter_handle",
    }
    assert redact_value(custom) == {
        "note": "call [email] or [email].",
        "list": ["a", "[email]"],
        "deep": {"who": "[email]"},
        "[email]": 1,
        "n": 2,
        "ok": "@twitter_handle",
    }


def test_unicode_addresses_are_redacted_whole() -> None:
    assert redact_text("écrire à jöhn.dœ@exämple.fr svp") == "écrire à [email] svp"


# 60 KB strings built to make a backtracking pattern quadratic: each must take milliseconds, where the
# old patterns took seconds
ADVERSARIAL = [
    "a" * 60000,
    "a@" * 30000,
    "a@a." * 15000,
    "a@" + "a." * 30000 + "@",
    "@a" * 30000,
    "a" * 30000 + "@" + "a" * 30000,
    "a." * 30000,
    "a@a" + "-" * 60000,
    "%40a" * 15000,
    "a%40" * 15000,
    "a@a.a " * 10000,
]
LINEAR: list[tuple[str, Callable[[str], object]]] = [
    ("normalize_email", normalize_email),
    ("redact_text", redact_text),
    ("redact_url", redact_url),
    ("redact_url in a query", lambda t: redact_url("https://shop.example/?q=" + t)),
    ("redact_url in a path", lambda t: redact_url("https://shop.example/" + t + "/x")),
    ("redact_value", lambda t: redact_value({"k": [t]})),
    ("forbidden_character", forbidden_character),
]


@pytest.mark.parametrize(("name", "function"), LINEAR, ids=[n for n, _ in LINEAR])
def test_linear_on_adversarial_input(name: str, function: Callable[[str], object]) -> None:
    started = time.perf_counter()
    for text in ADVERSARIAL:
        function(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{name}: {elapsed:.2f}s for {len(ADVERSARIAL)} strings of 60 KB"


def test_the_adversarial_strings_do_catch_a_backtracking_pattern() -> None:
    """The check above is meaningful: the pattern the e-mail check used to have is quadratic on them
    (on a tenth of the size, so that this test stays fast)."""
    old = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
    started = time.perf_counter()
    old.fullmatch("a@" + "a." * 3000 + " ")
    small = time.perf_counter() - started
    started = time.perf_counter()
    normalize_email("a@" + "a." * 3000 + " ")
    assert small > 20 * (time.perf_counter() - started)


def test_email_normalisation_keeps_its_rules() -> None:
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalize_email("a@b..c") == "a@b..c"
    for bad in (
        "a@b",
        "@b.c",
        "a@.b",
        "a@b.",
        "a@b@c.d",
        "a b@c.d",
        "a@b.c\x00",
        "a\x00@b.c",
        "a@\ud800.c",
        "",
    ):
        assert normalize_email(bad) is None, bad
