"""The commands that act on configured names (audiences, catalogs): which ones, and running a sync of
each with its summary printed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from relay.exceptions import ConfigError


class Run(Protocol):
    """A finished run: ``ok`` or ``dry-run`` when it succeeded."""

    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=Run)


def chosen_names(names: Sequence[str], known: Sequence[str], what: str, key: str) -> list[str]:
    """``names`` without repeats, or every ``known`` one when none is named; a ``ConfigError`` at
    ``key`` names those that are not known (``what``: ``audience``)."""
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none configured"
        raise ConfigError(f"no {what} named {', '.join(map(repr, unknown))} (configured: {listed})", key=key)
    return list(dict.fromkeys(names)) or list(known)


def sync_named(
    chosen: Sequence[str],
    what: str,
    sync: Callable[[Sequence[str]], list[R]],
    summary: Callable[[Sequence[R]], list[str]],
    say: Callable[[str], None],
) -> int:
    """Sync the ``chosen`` names and print the summary; exit code 0 when every run succeeded
    (``what``: ``audiences``, said when there is none)."""
    if not chosen:
        say(f"no {what} configured")
        return 0
    runs = sync(chosen)
    for line in summary(runs):
        say(line)
    return 0 if all(r.status in ("ok", "dry-run") for r in runs) else 1


__all__ = ["Run", "chosen_names", "sync_named"]
