"""What a sync did: per destination and per audience, as shown by the CLI, the admin API and the logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relay.audiences.sources import SourceStats
from relay.outcome import BaseRun, keep_samples

MAX_SAMPLES = 10


@dataclass
class DestinationResult:
    """One destination of one run. ``to_add``/``to_remove``/``unchanged`` are the diff before sending;
    ``added``/``removed`` what the platform acknowledged."""

    destination: str
    audience_id: str
    source: SourceStats
    mode: str = "incremental"  # incremental | replace | full
    status: str = "pending"  # ok | failed | dry-run
    to_add: int = 0
    to_remove: int = 0
    unchanged: int = 0
    staged: int = 0
    added: int = 0
    removed: int = 0
    sent: int = 0
    platform_invalid: int = 0
    samples: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def note_invalid(self, invalid: int, samples: dict[str, str]) -> None:
        self.platform_invalid += invalid
        keep_samples(self.samples, samples, MAX_SAMPLES)

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience_id": self.audience_id,
            "mode": self.mode,
            "status": self.status,
            "to_add": self.to_add,
            "to_remove": self.to_remove,
            "unchanged": self.unchanged,
            "added": self.added,
            "removed": self.removed,
            "sent": self.sent,
            "platform_invalid": self.platform_invalid,
            "platform_invalid_samples": dict(self.samples),
            "error": self.error,
        }


@dataclass
class AudienceRun(BaseRun[DestinationResult]):
    """One run of one audience; ``sources``: what each source scope read."""

    audience: str
    sources: dict[str, SourceStats] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON: what ``GET /admin/api/stats`` shows under ``audiences``."""
        rows = {scope: stats.as_dict() for scope, stats in self.sources.items()}
        return {
            "status": self.status,
            "source": self.source_type,
            "full": self.full,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": round(max(self.finished_at - self.started_at, 0.0), 3),
            "error": self.error,
            "rows": rows.get("*") or next(iter(rows.values()), {}),
            "destinations": {
                d.destination: {
                    **d.as_dict(),
                    **({"rows": rows[d.destination]} if d.destination in rows else {}),
                }
                for d in self.destinations
            },
        }


__all__ = ["AudienceRun", "DestinationResult"]
