"""The outcome of a run over several destinations (an audience sync, a catalog sync): its status from
theirs, and a few samples of what the platforms refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class DestinationOutcome(Protocol):
    """How a run went for one destination."""

    @property
    def destination(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...


def run_outcome(destinations: Sequence[DestinationOutcome], *, dry_run: bool) -> tuple[str, str | None]:
    """The run's status (``dry-run``; ``ok``; ``failed`` when every destination failed, else ``partial``)
    and, when some failed, their errors."""
    if dry_run:
        return "dry-run", None
    failed = [d for d in destinations if d.status == "failed"]
    if not failed:
        return "ok", None
    status = "failed" if len(failed) == len(destinations) else "partial"
    return status, "; ".join(f"{d.destination}: {d.error}" for d in failed)


def keep_samples(samples: dict[str, str], new: Mapping[str, str], limit: int) -> None:
    """Add ``new`` to ``samples`` until it holds ``limit`` (the first message of a key stays)."""
    for key, message in new.items():
        if len(samples) >= limit:
            return
        samples.setdefault(key, message)


__all__ = ["DestinationOutcome", "keep_samples", "run_outcome"]
