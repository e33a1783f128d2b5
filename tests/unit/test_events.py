"""The event's validation against hostile input: limits, control characters, times, ``custom`` types."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.meta.capi import custom_data
from connectors.x.conversions import custom_fields
from relay import limits
from relay.events import EventError, parse_event, resolve_event_time
from relay.http.browser import gif_event

pytestmark = pytest.mark.unit
NOW = 1_790_000_000.0


def event(**fields: Any) -> dict[str, Any]:
    return {"event_name": "Purchase", **fields}


def error_of(raw: Any) -> str:
    with pytest.raises(EventError) as caught:
        parse_event(raw)
    return str(caught.value)


def nested(path: str, value: Any) -> dict[str, Any]:
    """An event with ``value`` at a dotted ``path`` (``user.email``)."""
    *parents, leaf = path.split(".")
    inner: dict[str, Any] = {leaf: value}
    for parent in reversed(parents):
        inner = {parent: inner}
    return {"event_name": "Purchase", **inner} if path != "event_name" else inner


def time_of(value: Any, now: float = NOW) -> int:
    return resolve_event_time(parse_event(event(event_time=value)).event_time, now, "website")


# --- event_time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "²",  # str.isdigit is true for superscripts: it answered 500
        "١٧٩٠٠٠٠٠٠٠",  # Arabic-Indic digits: float() reads them, the contract's numbers are ASCII
        "\uff11\uff17\uff19\uff10\uff10",  # fullwidth digits
        "1e999",
        "nan",
        "inf",
        "-1",
        "",
        "   ",
        "2024-13-01",
        "not a time",
        "9999-12-31T23:59:59-23:59",  # after the year 9999 in UTC: an overflow, not an exception
        "0001-01-01T00:00:00+23:59",
    ],
)
def test_unparseable_or_out_of_range_time_text_is_a_per_event_error(value: str) -> None:
    with pytest.raises(EventError, match="event_time"):
        time_of(value)


@pytest.mark.parametrize(
    "value", [1e308, 10**400, -1, -0.5, True, False, [], {}, float("nan"), float("inf"), 10**14 + 1]
)
def test_numbers_that_are_no_time_are_rejected_at_validation(value: Any) -> None:
    assert error_of(event(event_time=value)).startswith("event_time: must be Unix seconds")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW - 60, NOW - 60),
        (int(NOW - 60), NOW - 60),
        ((NOW - 60) * 1000, NOW - 60),  # milliseconds
        (str(int(NOW - 60)), NOW - 60),
        (f" {int(NOW - 60) * 1000} ", NOW - 60),
        ("2026-09-21T14:13:20Z", 1_790_000_000),
        ("2026-09-21T16:13:20+02:00", 1_790_000_000),
        ("2026-09-21T14:13:20", 1_790_000_000),  # no offset: UTC
        (NOW + 100, NOW),  # small skew: clamped to now
    ],
)
def test_good_times_are_read(value: Any, expected: float) -> None:
    assert time_of(value) == int(expected)


def test_iso_times_are_not_mistaken_for_milliseconds() -> None:
    with pytest.raises(EventError, match="in the future"):
        time_of("9000-01-01T00:00:00Z")


# --- control characters -----------------------------------------------------------------------------

TEXT_FIELDS = [
    "event_name",
    "event_id",
    "event_source_url",
    "referrer_url",
    "user.email",
    "user.phone",
    "user.external_id",
    "user.ip",
    "user.user_agent",
    "user.fbp",
    "user.fbc",
    "user.madid",
    "consent.tcf",
    "consent.gpp",
    "consent.usp",
    "consent.gcs",
]


@pytest.mark.parametrize("path", TEXT_FIELDS)
@pytest.mark.parametrize("char", ["\x00", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028", "\t"])
def test_control_characters_reject_the_event(path: str, char: str) -> None:
    message = error_of(nested(path, f"a{char}b"))
    assert message == f"{path}: contains a control character (U+{ord(char):04X})"


def test_a_newline_in_event_id_cannot_forge_a_log_line() -> None:
    assert error_of(event(event_id="e1\n2026-01-01 INFO forged")) == (
        "event_id: contains a control character (U+000A)"
    )


def test_control_characters_in_lists_keys_and_custom() -> None:
    assert error_of(event(user={"email": ["a@b.co", "c\x00@d.co"]})).startswith("user.email: contains")
    assert error_of(event(consent={"gcm": {"ad\x00storage": "granted"}})).startswith("consent.gcm: contains")
    assert error_of(event(custom={"note": "a\x00b"})) == "custom.note: contains a control character (U+0000)"
    assert error_of(event(custom={"a": [{"b": "\x1b[31m"}]})).startswith("custom.a[0].b: contains")
    assert "contains a control character" in error_of(event(custom={"k\ney": 1}))
    # free text in custom may hold a tab; trailing whitespace of fields is trimmed, not refused
    assert parse_event(event(custom={"note": "a\tb"})).custom == {"note": "a\tb"}
    assert parse_event(event(event_id=" e1\n")).event_id == "e1"


def test_unpaired_surrogates_are_refused() -> None:
    for raw in (event(event_id="a\ud800"), event(custom={"x": "\udfff"}), event(user={"city": "\ud83d"})):
        with pytest.raises(EventError):
            parse_event(raw)


# --- limits -----------------------------------------------------------------------------------------

STRING_LIMITS = [
    ("event_name", limits.MAX_EVENT_NAME),
    ("event_id", limits.MAX_EVENT_ID),
    ("event_source_url", limits.MAX_URL),
    ("referrer_url", limits.MAX_URL),
    ("event_time", limits.MAX_TIME_TEXT),
    *(
        (f"user.{f}", limits.MAX_CONTACT_VALUE)
        for f in ("email", "phone", "first_name", "zip", "external_id")
    ),
    ("user.user_agent", limits.MAX_USER_AGENT),
    ("user.fbc", limits.MAX_FBC),
    ("user.fbp", limits.MAX_CLICK_ID),
    ("user.twclid", limits.MAX_CLICK_ID),
    ("user.lead_id", limits.MAX_ID),
    ("consent.tcf", limits.MAX_TCF),
    ("consent.gpp", limits.MAX_GPP),
    ("consent.gpp_sid", limits.MAX_GPP_SID),
    ("consent.usp", limits.MAX_USP),
    ("consent.gcs", limits.MAX_GCS),
    ("custom.note", limits.MAX_CUSTOM_STRING),
    ("custom.order_id", limits.MAX_CUSTOM_STRING),
]


@pytest.mark.parametrize(("path", "limit"), STRING_LIMITS)
def test_every_text_field_has_a_maximum_length(path: str, limit: int) -> None:
    parse_event(nested(path, "x" * limit))  # at the limit: valid (the time is parsed later)
    message = error_of(nested(path, "x" * (limit + 1)))
    assert message.startswith(path) and str(limit) in message


def test_contact_fields_hold_a_bounded_number_of_values() -> None:
    ok = parse_event(event(user={"email": ["a@b.co"] * limits.MAX_CONTACT_VALUES}))
    assert ok.user.email == ["a@b.co"] * limits.MAX_CONTACT_VALUES
    many = ["a@b.co"] * (limits.MAX_CONTACT_VALUES + 1)
    assert error_of(event(user={"phone": many})) == f"user.phone: at most {limits.MAX_CONTACT_VALUES} values"
    assert error_of(event(user={"zip": 94025})) == "user.zip: must be a string or a list of strings"
    assert error_of(event(user={"email": [{"a": 1}]})) == "user.email: must be a string or a list of strings"


def test_consent_lists_and_maps_are_bounded() -> None:
    gcm = {f"k{i}": "granted" for i in range(limits.MAX_GCM_KEYS + 1)}
    assert error_of(event(consent={"gcm": gcm})).startswith("consent.gcm")
    sids = list(range(limits.MAX_GPP_SECTIONS + 1))
    assert error_of(event(consent={"gpp_sid": sids})).startswith("consent.gpp_sid")
    for bad in ([True], [-1], [limits.MAX_GPP_SECTION_ID + 1], ["2"], 5):
        assert error_of(event(consent={"gpp_sid": bad})).startswith("consent.gpp_sid")
    assert parse_event(event(consent={"gpp_sid": [2, 7]})).consent.gpp_sid == [2, 7]


def deep(levels: int) -> dict[str, Any]:
    """A ``custom`` object ``levels`` objects deep, itself included."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"in": value}
    return value


def test_custom_is_bounded_in_keys_depth_strings_and_lists() -> None:
    parse_event(event(custom=deep(limits.MAX_CUSTOM_DEPTH)))
    assert "nested deeper than" in error_of(event(custom=deep(limits.MAX_CUSTOM_DEPTH + 1)))
    # what made orjson refuse the whole group commit: far deeper than it serialises
    assert "nested deeper than" in error_of(event(custom=deep(254)))
    keys = {f"k{i}": i for i in range(limits.MAX_CUSTOM_KEYS + 1)}
    assert error_of(event(custom=keys)) == f"custom: more than {limits.MAX_CUSTOM_KEYS} keys"
    assert "more than" in error_of(event(custom={"a": {"b": keys}}))
    parse_event(event(custom={"list": list(range(limits.MAX_CUSTOM_LIST))}))
    too_long = list(range(limits.MAX_CUSTOM_LIST + 1))
    assert (
        error_of(event(custom={"list": too_long})) == f"custom.list: more than {limits.MAX_CUSTOM_LIST} items"
    )
    long_key = "k" * (limits.MAX_CUSTOM_KEY + 1)
    assert "key is longer" in error_of(event(custom={long_key: 1}))
    assert "64-bit" in error_of(event(custom={"n": 2**63}))
    assert "64-bit" in error_of(event(custom={"n": [-(2**64)]}))
    assert error_of(event(custom={"n": float("inf")})) == "custom.n: must be a finite number"
    assert error_of(event(custom={"n": (1, 2)})) == "custom.n: not a JSON value"


def test_unknown_custom_keys_are_kept() -> None:
    custom = {"coupon": "SPRING", "items": [{"sku": "a", "tags": ["x"]}], "flag": True, "n": None}
    assert parse_event(event(custom=custom)).custom == custom


# --- the standard custom keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("custom", "expected"),
    [
        ({"value": "42.5", "predicted_ltv": 3}, {"value": 42.5, "predicted_ltv": 3.0}),
        ({"currency": " eur "}, {"currency": "EUR"}),
        ({"order_id": 1001, "status": "paid"}, {"order_id": "1001", "status": "paid"}),
        ({"content_name": 12.5, "search_string": 3.0}, {"content_name": "12.5", "search_string": "3"}),
        ({"num_items": 2.0}, {"num_items": 2}),
        ({"num_items": "3"}, {"num_items": 3}),
        ({"content_ids": ["a", 7]}, {"content_ids": ["a", "7"]}),
        ({"content_ids": "sku-1"}, {"content_ids": ["sku-1"]}),
        (
            {"contents": [{"id": 5, "quantity": 2, "price": "9.5", "name": "Mug", "x": [1]}]},
            {"contents": [{"id": "5", "quantity": 2, "price": 9.5, "name": "Mug", "x": [1]}]},
        ),
        ({"value": None, "contents": None}, {"value": None, "contents": None}),
    ],
)
def test_standard_custom_keys_are_read_in_their_types(
    custom: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert parse_event(event(custom=custom)).custom == expected


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ({"contents": 5}, "custom.contents: must be a list of objects"),
        ({"contents": [5]}, "custom.contents[0]: must be an object"),
        ({"contents": [{"quantity": 1}]}, "custom.contents[0].id: required"),
        (
            {"contents": [{"id": "a", "quantity": 1.5}]},
            "custom.contents[0].quantity: must be a non-negative integer",
        ),
        (
            {"contents": [{"id": "a", "quantity": -1}]},
            "custom.contents[0].quantity: must be a non-negative integer",
        ),
        ({"contents": [{"id": "a", "price": "cheap"}]}, "custom.contents[0].price: must be a number"),
        ({"contents": [{"id": "a", "item_price": True}]}, "custom.contents[0].item_price: must be a number"),
        ({"contents": [{"id": ["a"]}]}, "custom.contents[0].id: must be a string"),
        ({"contents": [{"id": "a", "name": {"x": 1}}]}, "custom.contents[0].name: must be a string"),
        ({"value": "²"}, "custom.value: must be a number"),
        ({"value": "١٢"}, "custom.value: must be a number"),
        ({"value": True}, "custom.value: must be a number"),
        ({"value": "1e999"}, "custom.value: must be a number"),
        ({"currency": "EURO"}, "custom.currency: must be a three-letter currency code (ISO 4217)"),
        ({"currency": 978}, "custom.currency: must be a three-letter currency code (ISO 4217)"),
        ({"currency": "€€€"}, "custom.currency: must be a three-letter currency code (ISO 4217)"),
        ({"order_id": True}, "custom.order_id: must be a string"),
        ({"content_type": ["product"]}, "custom.content_type: must be a string"),
        ({"delivery_category": {"a": 1}}, "custom.delivery_category: must be a string"),
        ({"num_items": -1}, "custom.num_items: must be a non-negative integer"),
        ({"num_items": 1.5}, "custom.num_items: must be a non-negative integer"),
        ({"num_items": True}, "custom.num_items: must be a non-negative integer"),
        ({"num_items": 10**12}, "custom.num_items: must be a non-negative integer"),
        ({"content_ids": {"a": 1}}, "custom.content_ids: must be a list of strings"),
        ({"content_ids": ["a", None]}, "custom.content_ids[1]: must be a string"),
        ({"content_ids": [["a"]]}, "custom.content_ids[0]: must be a string"),
    ],
)
def test_what_a_connector_cannot_map_is_rejected(custom: dict[str, Any], message: str) -> None:
    assert error_of(event(custom=custom)) == message


def test_a_validated_custom_maps_for_every_platform() -> None:
    custom = parse_event(
        event(
            custom={
                "value": "10",
                "currency": "usd",
                "contents": [{"id": 1, "quantity": 2, "item_price": 5}],
                "content_ids": 1,
                "order_id": 77,
                "num_items": "2",
            }
        )
    ).custom
    meta = custom_data(custom)
    assert meta["contents"] == [{"id": "1", "quantity": 2, "item_price": 5.0}]
    assert meta["content_ids"] == ["1"] and meta["order_id"] == "77" and meta["currency"] == "USD"
    x = custom_fields(custom)
    assert x["value"] == 10.0 and x["price_currency"] == "USD" and x["number_items"] == 2
    assert x["contents"] == [{"content_id": "1", "num_items": 2}]


# --- linear time ------------------------------------------------------------------------------------

ADVERSARIAL = [
    "a" * 60000,
    "a@" * 30000,
    "a@a." * 15000,
    "a@" + "a." * 30000 + "@",
    "@a" * 30000,
    "." * 60000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: f"{t[:6]!r}x{len(t)}")
def test_validation_is_linear_on_60kb_fields(text: str) -> None:
    raw = {
        "event_name": text,
        "event_id": text,
        "event_time": text,
        "event_source_url": "https://shop.example/?q=" + text,
        "user": {"email": [text, text[:200]], "city": text},
        "custom": {"note": text, "contents": [{"id": text}]},
    }
    started = time.perf_counter()
    for field in raw:
        with pytest.raises(EventError):
            parse_event({"event_name": "A", field: raw[field]} if field != "event_name" else {field: text})
    assert time.perf_counter() - started < 0.5


def test_error_messages_echo_keys_short_printable_and_without_addresses() -> None:
    assert error_of(event(user={"jane@example.com": 1})) == "user.[email]: unknown key"
    assert error_of(event(custom={"jane@example.com": "\x00"})) == (
        "custom.[email]: contains a control character (U+0000)"
    )
    assert error_of(event(**{"k" * 5000: 1})) == "k" * 40 + "...: unknown key"
    assert error_of(event(**{"a\nb": 1})) == "(a key with control characters): unknown key"
    assert (
        error_of(event(event_name="\ud800")) == "event_name: not valid Unicode text (an unpaired surrogate)"
    )


def test_pixel_gif_numbers_are_ascii_only() -> None:
    assert parse_event(gif_event({"ev": "Purchase", "value": "9.5"}, None)).custom == {"value": 9.5}
    for bad in ("١٢", "²", "1_000", "1e999"):
        assert error_of(gif_event({"ev": "Purchase", "value": bad}, None)) == "custom.value: must be a number"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 2001:DB8::1 ", "2001:db8::1"),  # written as platforms compare it
        ("203.0.113.9, 10.0.0.1", "203.0.113.9"),  # a backend passing X-Forwarded-For on: the client
        ("unknown, 198.51.100.2", "198.51.100.2"),
        ("", None),
    ],
)
def test_a_server_events_ip_is_an_address(given: str, stored: str | None) -> None:
    assert parse_event({"event_name": "Purchase", "user": {"ip": given}}).user.ip == stored


@pytest.mark.parametrize("given", ["not an ip", "fe80::1%eth0", "203.0.113", "1.2.3.4.5", "::g"])
def test_an_ip_that_is_no_address_refuses_its_event(given: str) -> None:
    """Meta refuses a whole request over one (meta.md §3: a valid IPv4 or IPv6 address): the event is
    refused at the door with the field named, not sent to fail later."""
    with pytest.raises(EventError, match=r"user\.ip: not an IP address"):
        parse_event({"event_name": "Purchase", "user": {"ip": given}})


def test_a_server_events_ip_has_a_maximum_length_too() -> None:
    """Checked apart from the other text fields: an IP field holds an address, not any text."""
    longest = "1111:2222:3333:4444:5555:6666:123.123.123.123, " + "9" * (limits.MAX_IP - 47)
    assert len(longest) == limits.MAX_IP
    assert parse_event(event(user={"ip": longest})).user.ip == "1111:2222:3333:4444:5555:6666:7b7b:7b7b"
    message = error_of(event(user={"ip": longest + "9"}))
    assert message.startswith("user.ip") and str(limits.MAX_IP) in message
