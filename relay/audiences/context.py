"""What a sync runs with: the relay's parts it needs and the options of one run."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.base import Connector
from relay.metrics import Metrics
from relay.settings import Settings
from relay.storage.db import Database

if TYPE_CHECKING:
    from relay.state import RelayState

STATUS_KEY = "audience_status"


@dataclass
class SyncEnv:
    """The parts of the relay a sync uses; ``status`` is the last-run dict per audience the admin shows."""

    settings: Settings
    db: Database
    connectors: Mapping[str, Connector]
    metrics: Metrics
    status: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    @classmethod
    def from_relay(cls, relay: RelayState) -> SyncEnv:
        """The env of a running relay; runs record their status in ``relay.extras["audience_status"]``."""
        status = relay.extras.setdefault(STATUS_KEY, {})
        return cls(relay.settings, relay.db, relay.connectors, relay.metrics, status)


@dataclass(frozen=True)
class SyncOptions:
    """Options of one run.

    ``batch_size`` caps each destination's batches below the connector's ``max_audience_batch``;
    ``attempts`` and ``retry_wait`` bound the in-run retry of a batch the platform answered with a
    retryable error (the next scheduled run picks up from the acknowledged state anyway).
    ``trigger`` is what the run history records as having started the run: ``schedule``, ``cli`` or
    ``api`` (code calling :func:`relay.audiences.sync_audience`).
    """

    dry_run: bool = False
    full: bool = False
    batch_size: int | None = None
    attempts: int = 3
    retry_wait: float = 1.0
    max_retry_wait: float = 30.0
    lease_seconds: float = 60.0
    trigger: str = "api"


__all__ = ["STATUS_KEY", "SyncEnv", "SyncOptions"]
