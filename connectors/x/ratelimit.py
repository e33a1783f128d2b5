"""Staying under X's rate limits without blocking the worker.

Two sources of truth, the stricter wins:

* a local sliding window of the documented budget (conversions: 60,000 events per 15 minutes
  per ad account; audiences: 1,500 requests per minute);
* the rate-limit headers of the last response. Account-level headers
  (``x-account-rate-limit-*``) are preferred and counted in the same unit as the local window
  (events for conversions); user-level headers (``x-rate-limit-*``) count requests. When the
  remaining budget gets low the limiter spreads what is left evenly until the reset.

A short wait (at most ``max_sleep`` seconds) is slept; a longer one raises
:class:`RateLimitedError` with ``retry_after`` so the outbox reschedules instead of a worker
sleeping for minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from relay.exceptions import RateLimitedError

ACCOUNT_PREFIX = "x-account-rate-limit"
USER_PREFIX = "x-rate-limit"


@dataclass
class HeaderBudget:
    """What one family of rate-limit headers said, kept up to date between responses."""

    limit: int | None
    remaining: int
    reset: float
    #: when we last spent from this budget (pacing starts from here)
    last: float

    def wait(self, now: float, cost: int, low_fraction: float) -> float:
        """Seconds to wait before spending ``cost`` from this budget."""
        if now >= self.reset:
            return 0.0  # a new window has begun; the numbers are stale
        if self.remaining < cost:
            return self.reset - now
        if self.limit is None or self.remaining > self.limit * low_fraction:
            return 0.0
        spacing = (self.reset - now) * cost / self.remaining
        return self.last + spacing - now


def read_budget(headers: Mapping[str, str], prefix: str, now: float) -> HeaderBudget | None:
    """The budget announced by ``<prefix>-limit/-remaining/-reset`` headers, if present and valid."""
    try:
        remaining = int(headers[f"{prefix}-remaining"])
        reset = float(headers[f"{prefix}-reset"])
    except (KeyError, ValueError):
        return None
    limit_text = headers.get(f"{prefix}-limit")
    limit = int(limit_text) if limit_text and limit_text.isdigit() else None
    return HeaderBudget(limit, remaining, reset, now)


def reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the account-level (else user-level) rate-limit reset, if announced."""
    for prefix in (ACCOUNT_PREFIX, USER_PREFIX):
        value = headers.get(f"{prefix}-reset")
        if value:
            try:
                return float(value) - now
            except ValueError:
                continue
    return None


class XRateLimiter:
    """Per-connector rate limiter; ``acquire(cost)`` before each request, ``observe`` each response."""

    def __init__(
        self,
        *,
        max_units: int = 60_000,
        window: float = 900.0,
        low_fraction: float = 0.05,
        max_sleep: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.max_units = max_units
        self.window = window
        self.low_fraction = low_fraction
        self.max_sleep = max_sleep
        self._clock = clock
        self._sleep = sleep
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0
        self.account: HeaderBudget | None = None
        self.user: HeaderBudget | None = None
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int) -> None:
        """Wait briefly, or raise :class:`RateLimitedError`, until ``cost`` units may be spent."""
        async with self._lock:
            wait = self.wait(cost)
            if wait > self.max_sleep:
                raise RateLimitedError(
                    f"holding back to stay under X's rate limit; next request in {wait:.0f}s",
                    retry_after=wait,
                )
            if wait > 0:
                await self._sleep(wait)
            self._spend(cost)

    def wait(self, cost: int) -> float:
        """Seconds to wait before ``cost`` units may be spent (0 when they may be spent now)."""
        now = self._clock()
        waits = [self.blocked_until - now, self._window_wait(now, cost)]
        if self.account is not None:
            waits.append(self.account.wait(now, cost, self.low_fraction))
        if self.user is not None:
            waits.append(self.user.wait(now, 1, self.low_fraction))
        return max(0.0, *waits)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in the rate-limit headers of a response."""
        now = self._clock()
        self.account = read_budget(headers, ACCOUNT_PREFIX, now) or self.account
        self.user = read_budget(headers, USER_PREFIX, now) or self.user

    def block(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (after a 429)."""
        self.blocked_until = max(self.blocked_until, self._clock() + seconds)

    def _spend(self, cost: int) -> None:
        now = self._clock()
        self._spent.append((now, cost))
        self._used += cost
        for budget, spent in ((self.account, cost), (self.user, 1)):
            if budget is not None:
                budget.remaining -= spent
                budget.last = now

    def _window_wait(self, now: float, cost: int) -> float:
        while self._spent and self._spent[0][0] <= now - self.window:
            self._used -= self._spent.popleft()[1]
        excess = self._used + cost - self.max_units
        if excess <= 0:
            return 0.0
        freed = 0
        for spent_at, units in self._spent:
            freed += units
            if freed >= excess:
                return spent_at + self.window - now
        return self.window  # more than the whole budget at once: never fits


__all__ = ["HeaderBudget", "XRateLimiter", "read_budget", "reset_wait"]
