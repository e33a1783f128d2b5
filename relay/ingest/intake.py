"""What the ingest handlers use, and nothing more: built once when the server starts, handed to them."""

from __future__ import annotations

from dataclasses import dataclass

from relay.http.auth import Credentials
from relay.ingest.counters import Counters
from relay.ingest.pipeline import Ingestor
from relay.ingest.writer import GroupCommitWriter
from relay.metrics import Metrics
from relay.proxies import ProxyList
from relay.settings import ServerSettings


@dataclass(frozen=True)
class Intake:
    """The ingest side of a running relay: limits, the pipeline, the group-commit writer, metrics,
    the trusted proxies and the API keys (``relay worker`` builds none of it)."""

    server: ServerSettings
    ingestor: Ingestor
    writer: GroupCommitWriter
    metrics: Metrics
    proxies: ProxyList
    credentials: Credentials

    @property
    def counters(self) -> Counters:
        """The metrics' labelled children, shared with the pipeline."""
        return self.ingestor.counters
