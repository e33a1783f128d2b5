"""The retry policy: exponential backoff with jitter, Retry-After, attempt and age limits."""

from __future__ import annotations

import random

import pytest

from relay.delivery.retry import RetryPolicy
from relay.settings import DeliverySettings

pytestmark = pytest.mark.unit


def policy(**kw: float) -> RetryPolicy:
    return RetryPolicy(DeliverySettings(**kw), random.Random(7))  # type: ignore[arg-type]


def test_backoff_doubles_with_jitter_and_cap() -> None:
    p = policy(backoff_base_seconds=2, backoff_max_seconds=60)
    delays = [p.backoff(n) for n in range(1, 8)]
    for n, delay in enumerate(delays[:4], start=1):
        assert 0.8 * 2 * 2 ** (n - 1) <= delay <= 1.2 * 2 * 2 ** (n - 1)
    assert all(d <= 60 for d in delays) and delays[-1] >= 48


def test_retry_after_is_honoured_and_limits_make_it_dead() -> None:
    p = policy(max_attempts=3, max_age_hours=1, backoff_base_seconds=1)
    decision = p.after_failure(1, created_at=0, now=10, retry_after=120, error="429")
    assert decision.status == "pending" and decision.next_attempt_at == 130
    assert p.after_failure(3, 0, 10, None, "HTTP 500").status == "dead"
    assert "after 3 attempts" in (p.after_failure(3, 0, 10, None, "HTTP 500").reason or "")
    late = p.after_failure(1, created_at=0, now=3500, retry_after=200, error="429")
    assert late.status == "dead" and "within 1 hours" in (late.reason or "")
