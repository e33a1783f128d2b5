"""Connector types, found through the entry-point group ``relay.connectors`` (built-ins included)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from relay.exceptions import ConfigError

GROUP = "relay.connectors"


@dataclass(frozen=True)
class ConnectorType:
    """An installed connector type."""

    name: str
    cls: Any
    package: str
    version: str

    @property
    def capabilities(self) -> tuple[str, ...]:
        return tuple(sorted(getattr(self.cls, "capabilities", ())))


#: (package, version) per entry point: reading them parses the distribution's metadata file (~4 ms per
#: entry point), and the types are looked up at every start and every settings load
_PACKAGES: dict[tuple[str, str, str], tuple[str, str]] = {}


def _describe(ep: EntryPoint) -> ConnectorType:
    cls = ep.load()
    key = (ep.group, ep.name, ep.value)
    if key not in _PACKAGES:
        dist = ep.dist
        _PACKAGES[key] = (dist.metadata["Name"], dist.version) if dist else (ep.module, "")
    package, version = _PACKAGES[key]
    return ConnectorType(name=ep.name, cls=cls, package=package, version=version)


def connector_types() -> dict[str, ConnectorType]:
    """Every installed connector type by name; a type that fails to import is reported clearly."""
    found: dict[str, ConnectorType] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = _describe(ep)
        except Exception as exc:
            raise ConfigError(f"connector type {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    return found
