"""What one catalog run did, per destination; recorded as JSON with the run and printed by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from relay.outcome import keep_samples, run_outcome

#: refused items kept per destination as samples (id → the platform's message, masked)
MAX_SAMPLES = 20


@dataclass
class DestinationRun:
    destination: str
    catalog_id: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    refused: int = 0
    batches: int = 0
    status: str = "pending"  # pending | ok | failed | dry-run
    error: str | None = None
    samples: dict[str, str] = field(default_factory=dict)

    def refuse(self, errors: dict[str, str]) -> None:
        self.refused += len(errors)
        keep_samples(self.samples, errors, MAX_SAMPLES)


@dataclass
class CatalogRun:
    catalog: str
    source_type: str
    started_at: float
    dry_run: bool = False
    full: bool = False
    status: str = "running"  # running | ok | partial | failed | busy | dry-run | interrupted
    finished_at: float | None = None
    source: dict[str, Any] = field(default_factory=dict)
    destinations: list[DestinationRun] = field(default_factory=list)
    error: str | None = None

    def conclude(self) -> None:
        self.status, error = run_outcome(self.destinations, dry_run=self.dry_run)
        if error is not None:
            self.error = error

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["CatalogRun", "DestinationRun"]
