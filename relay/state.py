"""The running relay's parts, built in the app lifespan (or by a CLI command) and passed on: no globals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from connectors.base import Connector
from relay.exceptions import ConfigError
from relay.http.auth import Credentials
from relay.metrics import Metrics
from relay.proxies import ProxyList
from relay.registry import ConnectorType, connector_types
from relay.settings import Settings
from relay.storage.db import Database


def config_hash(settings: BaseModel) -> str:
    """A digest of a connector block, secrets included, so a changed token resumes a paused connector."""

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [reveal(v) for v in value]
        return value

    dumped = reveal(settings.model_dump(mode="python"))
    return hashlib.sha256(json.dumps(dumped, sort_keys=True, default=str).encode()).hexdigest()


def build_connectors(
    settings: Settings, client: httpx.AsyncClient, types: Mapping[str, ConnectorType] | None = None
) -> dict[str, Connector]:
    types = connector_types() if types is None else types
    built: dict[str, Connector] = {}
    for name, block in settings.connectors.items():
        kind = types.get(block.type)
        if kind is None:
            raise ConfigError(f"unknown connector type {block.type!r}", key=f"connectors.{name}.type")
        built[name] = kind.cls(name, block, client)
    return built


def make_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.delivery.request_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"user-agent": "conversion-relay"},
    )


@dataclass
class RelayState:
    """The parts every command shares (storage, metrics, connectors, credentials); the ingest handlers get
    their own :class:`relay.ingest.intake.Intake`, which ``relay worker`` never builds."""

    settings: Settings
    db: Database
    metrics: Metrics
    client: httpx.AsyncClient
    connectors: dict[str, Connector]
    credentials: Credentials
    proxies: ProxyList
    #: called with a connector's name when the dashboard resumes it, so that this process's worker sends
    #: again at once (other processes read the resume within their paused-state check)
    on_resume: list[Callable[[str], None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def config_hashes(self) -> dict[str, str]:
        return {name: config_hash(c.settings) for name, c in self.connectors.items()}
