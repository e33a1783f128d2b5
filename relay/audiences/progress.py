"""Progress of a sync: a silent base for the scheduler, a plain-text bar on stderr for the CLI."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from relay.audiences.sources import SourceStats


class Progress:
    """Told what a sync does as it goes; does nothing by itself."""

    def started(self, audience: str) -> None:
        """A run of ``audience`` began."""

    def read(self, audience: str, scope: str, stats: SourceStats) -> None:
        """A chunk of the source was read, hashed and staged."""

    def planned(self, audience: str, destination: str, total: int) -> None:
        """The destination has ``total`` members to send."""

    def sent(self, audience: str, destination: str, count: int) -> None:
        """``count`` more members were acknowledged by the destination."""

    def finished(self, audience: str) -> None:
        """The run of ``audience`` ended."""


class ProgressBar(Progress):
    """One status line on a terminal (rewritten in place at most ``rate`` times a second); on a pipe,
    a line every few seconds so logs stay short."""

    def __init__(
        self, stream: TextIO | None = None, *, rate: float = 4.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 1 / rate if self.tty else 5.0
        self.clock = clock
        self._last = 0.0
        self._audience = ""
        self._read = self._members = 0
        self._dests: dict[str, list[int]] = {}  # destination -> [sent, total]

    def started(self, audience: str) -> None:
        self._audience, self._read, self._members, self._dests = audience, 0, 0, {}
        self._draw(force=True)

    def read(self, audience: str, scope: str, stats: SourceStats) -> None:
        self._read, self._members = stats.read, stats.members
        self._draw()

    def planned(self, audience: str, destination: str, total: int) -> None:
        self._dests[destination] = [0, total]
        self._draw(force=True)

    def sent(self, audience: str, destination: str, count: int) -> None:
        self._dests.setdefault(destination, [0, 0])[0] += count
        self._draw()

    def finished(self, audience: str) -> None:
        self._draw(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        parts = [f"{self._audience}: read {self._read:,} rows", f"hashed {self._members:,}"]
        for name, (sent, total) in self._dests.items():
            parts.append(f"{name} {_bar(sent, total)} {sent:,}/{total:,}")
        return " · ".join(parts)

    def _draw(self, *, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()


def _bar(done: int, total: int, width: int = 12) -> str:
    filled = width if total <= 0 else min(width, done * width // total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


__all__ = ["Progress", "ProgressBar"]
