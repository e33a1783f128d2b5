"""The outcome of a run over several destinations (an audience sync, a catalog sync): its status from
theirs, and a few samples of what the platforms refused."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


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


class RunOptions(Protocol):
    """What every run's options say about the run itself."""

    @property
    def dry_run(self) -> bool: ...

    @property
    def full(self) -> bool: ...


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

    def start(self, options: RunOptions, now: float) -> None:
        """Begin the run at ``now`` with the caller's options (a dry run, a full resend)."""
        self.dry_run, self.full, self.started_at = options.dry_run, options.full, now

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


def last_summary(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The last run's summary kept in a job's run lock row (its JSON text), or ``{}``: none yet, or a
    text that is not a JSON object (edited by hand, a restored backup) costs this job's summary only,
    not the report of every job."""
    text = row.get("summary") if row else None
    try:
        summary = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}


__all__ = ["BaseRun", "DestinationOutcome", "RunOptions", "keep_samples", "last_summary", "run_outcome"]
