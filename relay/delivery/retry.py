"""Durable retries are stored state: this policy turns an outcome into the row's next status."""

from __future__ import annotations

import random
from dataclasses import dataclass

from relay.settings import DeliverySettings


@dataclass(frozen=True)
class RetryDecision:
    status: str  # pending (retry at next_attempt_at) | dead
    next_attempt_at: float
    reason: str | None = None


class RetryPolicy:
    """Exponential backoff with jitter, bounded by ``max_attempts`` and ``max_age_hours``."""

    def __init__(self, settings: DeliverySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.rng = rng or random.Random()

    def backoff(self, attempts: int) -> float:
        """About ``base * 2^(attempts-1)`` seconds, ±20 % jitter, capped by ``backoff_max_seconds``."""
        s = self.settings
        delay = min(s.backoff_max_seconds, s.backoff_base_seconds * 2.0 ** max(attempts - 1, 0))
        return float(min(s.backoff_max_seconds, delay * self.rng.uniform(0.8, 1.2)))

    def expired(self, created_at: float, now: float) -> bool:
        return now - created_at >= self.settings.max_age_hours * 3600

    def after_failure(
        self, attempts: int, created_at: float, now: float, retry_after: float | None, error: str
    ) -> RetryDecision:
        """What to do after a retryable failure of the ``attempts``-th try."""
        s = self.settings
        if attempts >= s.max_attempts:
            return RetryDecision("dead", now, f"gave up after {attempts} attempts: {error}")
        delay = self.backoff(attempts)
        if retry_after is not None:
            delay = max(retry_after, 0.0)
        next_at = now + delay
        if next_at - created_at >= s.max_age_hours * 3600:
            return RetryDecision("dead", now, f"not delivered within {s.max_age_hours:g} hours: {error}")
        return RetryDecision("pending", next_at)
