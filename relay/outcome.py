"""The outcome of a run over several destinations (an audience sync, a catalog sync): its status from
theirs, and a few samples of what the platforms refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


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


D = TypeVar("D", bound=DestinationOutcome)


@dataclass(kw_only=True)
class BaseRun(Generic[D]):
    """One run of a job over several destinations, its name in the subclass's first field."""

    source_type: str
    dry_run: bool = False
    #: every item sent again, not only the changes
    full: bool = False
    status: str = "running"  # running | ok | partial | failed | busy | dry-run | interrupted
    started_at: float = 0.0
    finished_at: float = 0.0
    error: str | None = None
    destinations: list[D] = field(default_factory=list)

    def conclude(self) -> None:
        """Set :attr:`status` from the destinations' outcomes, and :attr:`error` unless it is set."""
        self.status, error = run_outcome(self.destinations, dry_run=self.dry_run)
        self.error = self.error or error

    def finish(self, now: float) -> None:
        """End the run at ``now``; one still running was stopped before it finished (cancelled)."""
        if self.status == "running":
            self.status, self.error = "interrupted", "the run was stopped before it finished"
        self.finished_at = now


def keep_samples(samples: dict[str, str], new: Mapping[str, str], limit: int) -> None:
    """Add ``new`` to ``samples`` until it holds ``limit`` (the first message of a key stays)."""
    for key, message in new.items():
        if len(samples) >= limit:
            return
        samples.setdefault(key, message)


__all__ = ["BaseRun", "DestinationOutcome", "keep_samples", "run_outcome"]
