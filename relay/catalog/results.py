"""What one catalog run did, per destination; recorded as JSON with the run and printed by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from relay.outcome import BaseRun, keep_samples

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
class CatalogRun(BaseRun[DestinationRun]):
    """One run of one catalog; ``source``: what the source held."""

    catalog: str
    source: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["CatalogRun", "DestinationRun"]
