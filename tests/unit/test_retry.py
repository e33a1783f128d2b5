"""The retry policy: exponential backoff with jitter, Retry-After, attempt and age limits."""

from __future__ import annotations

import random

import pytest

from relay.delivery.retry import RetryPolicy
from relay.settings import DeliverySettings

pytestmark = pytest.mark.unit


def policy(**kw: float | None) -> RetryPolicy:
    return RetryPolicy(DeliverySettings(**kw), random.Random(7))  # type: ignore[arg-type]


def test_backoff_doubles_with_jitter_and_cap() -> None:
    p = policy(backoff_base_seconds=2, backoff_max_seconds=60)
    delays = [p.backoff(n) for n in range(1, 8)]
    for n, delay in enumerate(delays[:4], start=1):
        assert 0.8 * 2 * 2 ** (n - 1) <= delay <= 1.2 * 2 * 2 ** (n - 1)
    assert all(d <= 60 for d in delays) and delays[-1] >= 48


DAY = 86400.0


def test_retry_after_is_honoured_when_longer_than_the_backoff_and_limits_make_it_dead() -> None:
    p = policy(max_attempts=3, max_age_hours=1, backoff_base_seconds=1)
    deadline = p.deadline(created_at=0, event_time=0, window=None)
    decision = p.after_failure(1, deadline, now=10, retry_after=120, error="429")
    assert decision.status == "pending" and decision.next_attempt_at == 130
    # a Retry-After shorter than the backoff does not shorten it
    short = policy(backoff_base_seconds=100).after_failure(1, deadline, now=10, retry_after=1, error="429")
    assert short.next_attempt_at >= 10 + 80
    assert p.after_failure(3, deadline, 10, None, "HTTP 500").status == "dead"
    assert "after 3 attempts" in (p.after_failure(3, deadline, 10, None, "HTTP 500").reason or "")
    late = p.after_failure(1, deadline, now=3500, retry_after=200, error="429")
    assert late.status == "dead" and "within 1 hours" in (late.reason or "")


@pytest.mark.parametrize(
    ("max_age_hours", "window", "expected_at", "words"),
    [
        (None, 7 * DAY, 1000 + 7 * DAY, "window (7 days after the event)"),  # the platform's window
        (None, 62 * DAY, 1000 + 62 * DAY, "62 days"),
        (None, None, 2000 + 72 * 3600, "within 72 hours"),  # no window anywhere: the default
        (24, 7 * DAY, 2000 + 24 * 3600, "within 24 hours"),  # the config is earlier
        (24 * 30, 7 * DAY, 1000 + 7 * DAY, "7 days"),  # the platform is earlier
    ],
)
def test_deadline_is_the_earlier_of_the_platform_window_and_max_age(
    max_age_hours: float | None, window: float | None, expected_at: float, words: str
) -> None:
    kw = {} if max_age_hours is None else {"max_age_hours": max_age_hours}
    deadline = policy(**kw).deadline(created_at=2000, event_time=1000, window=window)
    assert deadline.at == expected_at and words in deadline.reason


def test_a_retry_past_the_deadline_becomes_a_last_try_before_it() -> None:
    p = policy(backoff_base_seconds=3600, backoff_max_seconds=3600)
    deadline = p.deadline(created_at=0, event_time=0, window=7 * DAY)
    near = 7 * DAY - 1800  # the backoff (about an hour) would pass the window
    decision = p.after_failure(5, deadline, now=near, retry_after=None, error="HTTP 503")
    assert decision.status == "pending" and decision.next_attempt_at == 7 * DAY - 60
    # at the last try itself, or when the platform asks to wait past the window: dead with the reason
    final = p.after_failure(6, deadline, now=7 * DAY - 60, retry_after=None, error="HTTP 503")
    assert final.status == "dead" and "window" in (final.reason or "") and "HTTP 503" in (final.reason or "")
    asked = p.after_failure(5, deadline, now=near, retry_after=7200, error="429")
    assert asked.status == "dead"


def test_default_attempts_outlast_a_week_of_outage() -> None:
    p = policy()
    elapsed, attempts = 0.0, 1
    while attempts < p.settings.max_attempts:
        elapsed += p.backoff(attempts)
        attempts += 1
    assert elapsed > 7 * DAY
