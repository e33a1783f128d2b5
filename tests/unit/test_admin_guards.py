"""The admin boundary's pure parts: sign-in rate limit, origin comparison, replay filters, the page policy."""

from __future__ import annotations

from typing import Any

import pytest

from relay.admin.api import FilterError, replay_filter
from relay.admin.csrf import normalise_origin
from relay.admin.dashboard import LOGIN, content_security_policy
from relay.admin.ratelimit import LoginLimiter

pytestmark = pytest.mark.unit


def test_limiter_allows_the_limit_then_waits_for_the_window() -> None:
    limiter = LoginLimiter(per_minute=5)
    for i in range(5):
        assert limiter.retry_after("203.0.113.9", 100.0 + i) == 0
        limiter.failed("203.0.113.9", 100.0 + i)
    assert limiter.retry_after("203.0.113.9", 105.0) == 55  # the first failure leaves the window at 160
    assert limiter.retry_after("198.51.100.1", 105.0) == 0  # per client
    assert limiter.retry_after("203.0.113.9", 159.5) == 1
    assert limiter.retry_after("203.0.113.9", 160.0) == 0  # one failure left the window: one more try


def test_limiter_forgets_on_success_and_stays_bounded() -> None:
    limiter = LoginLimiter(per_minute=2, max_clients=3)
    limiter.failed("a", 0)
    limiter.failed("a", 1)
    assert limiter.retry_after("a", 2) > 0
    limiter.succeeded("a")
    assert limiter.retry_after("a", 2) == 0
    for client in ("b", "c", "d", "e"):
        limiter.failed(client, 3)
        limiter.failed(client, 3)
    assert len(limiter._failures) == 3
    assert limiter.retry_after("b", 4) == 0 and limiter.retry_after("e", 4) > 0  # oldest dropped first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://Relay.Example", "https://relay.example"),
        ("https://relay.example:443", "https://relay.example"),
        ("http://relay.example:80", "http://relay.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://relay.example:8443", "https://relay.example:8443"),
        ("null", None),
        ("ftp://relay.example", None),
        ("https://relay.example/path", None),
        ("https://relay.example:99999", None),
        ("https://", None),
    ],
)
def test_origins_compare_after_normalising(text: str, expected: str | None) -> None:
    assert normalise_origin(text) == expected


def test_replay_filters_are_typed() -> None:
    f = replay_filter({"connector": "meta", "since": "2026-11-01T00:00:00Z", "until": 1_800_000_000})
    assert (f.status, f.connector, f.event_id) == ("dead", "meta", None)
    assert f.since == 1_793_491_200.0 and f.until == 1_800_000_000.0
    assert replay_filter({"status": "", "connector": None}).status == "dead"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ([], "JSON object"),
        ("dead", "JSON object"),
        ({"status": ["dead"]}, "status"),
        ({"status": {"$ne": 1}}, "status"),
        ({"status": "lost"}, "status"),
        ({"connector": ["meta", "x"]}, "connector"),
        ({"connector": 7}, "connector"),
        ({"event_id": {"a": 1}}, "event_id"),
        ({"event_id": "a\x00b"}, "event_id"),
        ({"event_id": "x" * 256}, "event_id"),
        ({"since": [1]}, "since"),
        ({"since": True}, "since"),
        ({"until": {"t": 1}}, "until"),
        ({"until": "yesterday"}, "until"),
        ({"until": 10**400}, "until"),
        ({"since": 1e308 * 10}, "since"),
        ({"conector": "meta"}, "unknown filter 'conector'"),
    ],
)
def test_replay_filters_refuse_other_types(body: Any, names: str) -> None:
    with pytest.raises(FilterError, match=names):
        replay_filter(body)


def test_page_policy_allows_exactly_the_pages_inline_code() -> None:
    policy = content_security_policy("<style>a{}</style><script>go()</script>")
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    # the base64 SHA-256 of "go()"
    assert directives["script-src"] == "'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"
    assert directives["style-src"].startswith("'sha256-")
    assert directives["frame-ancestors"] == "'none'" and directives["default-src"] == "'self'"
    assert "unsafe" not in policy
    assert "script-src 'none'" in content_security_policy(LOGIN)  # the sign-in page runs no script
