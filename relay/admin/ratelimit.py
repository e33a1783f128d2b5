"""Failed dashboard sign-ins per client IP, in this process's memory.

Each worker process counts on its own, so with N processes a client gets up to N times the limit;
that still turns a token search into a crawl, and needs no shared store.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

WINDOW_SECONDS = 60.0
#: clients tracked at once; the least recently failing are forgotten first, so memory stays bounded
MAX_CLIENTS = 10_000


class LoginLimiter:
    """At most ``per_minute`` failed sign-ins per client in any 60 seconds."""

    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> int:
        """Seconds until ``client`` may try again; 0 when it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return 0
        while failures and failures[0] <= now - WINDOW_SECONDS:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0
        if len(failures) < self.per_minute:
            return 0
        return max(1, math.ceil(failures[0] + WINDOW_SECONDS - now))

    def failed(self, client: str, now: float) -> None:
        failures = self._failures.pop(client, None) or deque(maxlen=self.per_minute)
        failures.append(now)
        self._failures[client] = failures
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
