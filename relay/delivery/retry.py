"""Durable retries are stored state: this policy turns an outcome into the row's next status.

How long an event is worth retrying is the earlier of two limits: the platform's acceptance window
(a connector's ``acceptance_window``, counted from ``event_time``: Meta takes events for 7 days, 62
for ``physical_store``) and ``delivery.max_age_hours`` (counted from receipt). When that setting is
unset, the platform's window alone applies, and for a platform that documents none,
:data:`DEFAULT_MAX_AGE_HOURS`. A retry that backoff would place past the deadline becomes one last
try shortly before it, so an outage that ends inside the window loses nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from relay.settings import DeliverySettings
from relay.types import DeliveryStatus

#: retries stop this long after receipt when neither the platform nor the config sets a limit
DEFAULT_MAX_AGE_HOURS = 72.0
#: the last try before a deadline is made this many seconds before it
LAST_TRY_MARGIN = 60.0


@dataclass(frozen=True)
class RetryDecision:
    status: DeliveryStatus  # PENDING (retry at next_attempt_at) | DEAD
    next_attempt_at: float
    reason: str | None = None


@dataclass(frozen=True)
class Deadline:
    """When retrying one delivery stops, and the reason recorded when it does."""

    at: float
    reason: str


class RetryPolicy:
    """Exponential backoff with jitter, bounded by ``max_attempts`` and the delivery's :class:`Deadline`."""

    def __init__(self, settings: DeliverySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.rng = rng or random.Random()

    def backoff(self, attempts: int) -> float:
        """About ``base * 2^(attempts-1)`` seconds, ±20 % jitter, capped by ``backoff_max_seconds``."""
        s = self.settings
        delay = min(s.backoff_max_seconds, s.backoff_base_seconds * 2.0 ** max(attempts - 1, 0))
        return float(min(s.backoff_max_seconds, delay * self.rng.uniform(0.8, 1.2)))

    def deadline(self, created_at: float, event_time: float, window: float | None) -> Deadline:
        """The earlier of the platform's window after ``event_time`` and ``max_age_hours`` after receipt."""
        limits: list[Deadline] = []
        if window is not None:
            limits.append(Deadline(event_time + window, f"outside the platform's window ({_span(window)})"))
        hours = self.settings.max_age_hours
        if hours is None and window is None:
            hours = DEFAULT_MAX_AGE_HOURS
        if hours is not None:
            limits.append(Deadline(created_at + hours * 3600, f"not delivered within {hours:g} hours"))
        return min(limits, key=lambda d: d.at)

    def after_failure(
        self, attempts: int, deadline: Deadline, now: float, retry_after: float | None, error: str
    ) -> RetryDecision:
        """What to do after a retryable failure of the ``attempts``-th try.

        The backoff applies; a longer ``Retry-After`` from the platform is honoured.
        """
        s = self.settings
        if attempts >= s.max_attempts:
            return RetryDecision(DeliveryStatus.DEAD, now, f"gave up after {attempts} attempts: {error}")
        delay = self.backoff(attempts)
        if retry_after is not None:
            delay = max(delay, retry_after)
        next_at = now + delay
        if next_at >= deadline.at:
            last_try = deadline.at - LAST_TRY_MARGIN
            if retry_after is not None or last_try <= now:
                return RetryDecision(DeliveryStatus.DEAD, now, f"{deadline.reason}: {error}")
            next_at = last_try
        return RetryDecision(DeliveryStatus.PENDING, next_at)


def _span(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days after the event" if days >= 1 else f"{seconds / 3600:g} hours after the event"
