"""Property: whatever JSON value a client puts in whatever field, preparing the event either raises
:class:`EventError` or gives an event that can be stored and mapped by every connector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.meta.capi import server_event
from connectors.x.conversions import to_conversion
from relay.config import parse_settings
from relay.events import EventError
from relay.ingest.pipeline import Ingestor, RequestContext
from relay.metrics import Metrics
from relay.redact import redact_url, redact_value
from relay.state import build_connectors
from relay.storage.outbox import NewEvent
from relay.text import forbidden_character
from relay.types import OutboundEvent

pytestmark = pytest.mark.unit

TOP = ["event_name", "event_id", "event_time", "action_source", "event_source_url", "referrer_url", "opt_out"]
USER = [
    "email",
    "phone",
    "first_name",
    "city",
    "zip",
    "country",
    "external_id",
    "ip",
    "user_agent",
    "fbp",
    "fbc",
]
CONSENT = ["tcf", "gdpr_applies", "gpp", "gpp_sid", "usp", "gcm", "gcs", "gpc"]
CUSTOM = [
    "value",
    "currency",
    "order_id",
    "content_ids",
    "contents",
    "content_name",
    "num_items",
    "predicted_ltv",
    "status",
    "description",
    "anything",
]
CONTENT = ["id", "quantity", "price", "item_price", "name", "delivery_category", "type", "group_id"]

hostile_text = st.sampled_from(
    [
        "",
        " ",
        "²",
        "١٢",
        "1e999",
        "nan",
        "-1",
        "\x00",
        "a\nb",
        "\ud800",
        "a@b.co",
        "EUR",
        "2026-01-01T00:00:00Z",
    ]
) | st.text(max_size=12)
numbers = st.sampled_from([0, -1, 1.5, 1e308, -1e308, 10**400, 2**63, 2**64, True, False, 10**14 + 1]) | (
    st.integers() | st.floats()
)
scalars = st.none() | hostile_text | numbers


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if depth % 2 else [value]
    return value


json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(CONTENT) | hostile_text, inner)
    ),
    max_leaves=12,
) | st.integers(1, 300).map(deep)


def with_keys(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=4)


contents = st.lists(with_keys(CONTENT, scalars | json_values) | json_values, max_size=3)
customs = with_keys(CUSTOM, scalars | json_values | contents)
PATHS = [
    *TOP,
    *(f"user.{k}" for k in USER),
    *(f"consent.{k}" for k in CONSENT),
    *(f"custom.{k}" for k in CUSTOM),
]


def hostile(custom: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    """A valid event with ``custom``, then each dotted path of ``changes`` set to a hostile value."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": "e-1",
        "event_source_url": "https://shop.example/done?email=jane%40example.com",
        "user": {"email": "Jane@Example.com", "twclid": "23opevjt88psuo13lu8d020qkn"},
        "custom": custom,
    }
    for path, value in changes:
        *parents, leaf = path.split(".")
        holder = event
        for parent in parents:
            if not isinstance(holder.get(parent), dict):
                holder[parent] = {}
            holder = holder[parent]
        holder[leaf] = value
    return event


SOURCES = ["gif", "collect", "events"]
top_level = with_keys([*TOP, "user", "consent", "custom"], json_values)
events = st.builds(
    hostile, customs, st.lists(st.tuples(st.sampled_from(PATHS), scalars | json_values), max_size=2)
)


@pytest.fixture(scope="module")
def ingestor() -> Iterator[Ingestor]:
    config = {
        "server": {"api_keys": ["k" * 20], "admin_token": "t" * 20, "default_country": "US"},
        # consent allowed where no signal says otherwise: accepted events are filled and mapped
        "consent": {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "allow"}},
        "connectors": {
            "meta": {"type": "meta", "pixel_id": "1234567890", "access_token": "token"},
            "x": {
                "type": "x",
                "pixel_id": "o8z6j",
                "event_tags": {"Purchase": "o87ne", "Lead": "o87nf"},
                "consumer_key": "ck",
                "consumer_secret": "cs",
                "access_token": "at",
                "access_token_secret": "ats",
            },
        },
    }
    settings_ = parse_settings(config)
    client = httpx.AsyncClient()
    yield Ingestor(settings_, build_connectors(settings_, client), Metrics())


def outbound(ev: NewEvent) -> OutboundEvent:
    return OutboundEvent(
        delivery_id=1,
        event_id=ev.event_id,
        event_name=ev.event_name,
        event_time=ev.event_time,
        action_source=ev.action_source,
        event_source_url=ev.event_source_url,
        referrer_url=ev.referrer_url,
        opt_out=ev.opt_out,
        hashed=ev.hashed,
        ids=ev.ids,
        ip=ev.ip,
        user_agent=ev.user_agent,
        custom=ev.custom,
    )


def check(ingestor: Ingestor, raw: Any, source: str) -> bool:
    """Prepare ``raw``; when valid, check it can be stored and mapped. True when it was valid."""
    now = time.time()
    ctx = RequestContext(source=source, now=now, ip="203.0.113.9", user_agent="Mozilla/5.0")
    try:
        prepared = ingestor.prepare(raw, ctx)
    except EventError as exc:
        assert str(exc) and forbidden_character(str(exc)) is None
        return False
    ev = prepared.event
    # what the outbox writes: the JSON columns serialise, the text columns hold no control character
    for column in (ev.custom, ev.hashed, ev.ids, ev.consent):
        orjson.dumps(column)
    for text in (ev.event_id, ev.event_name, ev.event_source_url, ev.referrer_url, ev.ip, ev.user_agent):
        assert text is None or forbidden_character(text) is None
    # no e-mail address left in what is forwarded as given
    assert redact_value(ev.custom) == ev.custom
    for url in (ev.event_source_url, ev.referrer_url):
        assert url is None or redact_url(url) == url
    # what the connectors send: both mappings run without an exception
    server_event(outbound(ev), ev.event_name, now=now)
    to_conversion(outbound(ev), "o87ne")
    return True


FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(raw=events, source=st.sampled_from(SOURCES))
def test_hostile_values_in_a_valid_event(ingestor: Ingestor, raw: Any, source: str) -> None:
    check(ingestor, raw, source)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(raw=json_values | top_level, source=st.sampled_from(SOURCES))
def test_any_json_as_an_event(ingestor: Ingestor, raw: Any, source: str) -> None:
    check(ingestor, raw, source)


def test_the_valid_base_event_is_stored_and_redacted(ingestor: Ingestor) -> None:
    """The property tests start from an event that is valid: their accepted cases are not vacuous."""
    ctx = RequestContext(source="events", now=time.time())
    event = ingestor.prepare(hostile({"value": "5", "note": "from jane@example.com"}, []), ctx).event
    assert check(ingestor, hostile({}, []), "events")
    assert event.event_source_url == "https://shop.example/done?email=[email]"
    assert event.custom == {"value": 5.0, "note": "from [email]"} and event.hashed["em"]
