"""Config checks that need the connector blocks: catalog destinations and lookalike audiences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from relay.exceptions import ConfigError
from relay.settings import ConnectorSettings, Settings


def catalog_id(block: ConnectorSettings, override: str | None) -> str | None:
    """The platform catalog a destination syncs to: its own ``catalog_id``, else its connector's."""
    return override or getattr(block, "catalog_id", None)


def lookalike_destinations(
    destinations: Iterable[str], connectors: Mapping[str, ConnectorSettings]
) -> list[str]:
    """The destinations whose connector creates lookalikes (it knows an ad account: Meta)."""
    return [d for d in destinations if "ad_account_id" in type(connectors[d]).model_fields]


def check_catalogs(settings: Settings, connectors: Mapping[str, ConnectorSettings]) -> None:
    """Every catalog destination is a connector that has catalogs, with a catalog id; every lookalike
    belongs to an audience synced to a connector that knows its ad account."""
    for name, catalog in settings.catalogs.items():
        for dest, options in catalog.destinations.items():
            key = f"catalogs.{name}.destinations.{dest}"
            block = connectors.get(dest)
            if block is None:
                raise ConfigError(f"no connector named {dest!r}", key=key)
            if "catalog_id" not in type(block).model_fields:
                raise ConfigError(f"connector {dest!r} ({block.type}) has no product catalog", key=key)
            if not catalog_id(block, options.catalog_id):
                raise ConfigError(
                    f"set catalog_id on connector {dest!r} (connectors.{dest}.catalog_id) or here", key=key
                )
    for name, audience in settings.audiences.items():
        if not audience.lookalike:
            continue
        key = f"audiences.{name}.lookalike"
        able = lookalike_destinations(audience.destinations, connectors)
        if not able:
            raise ConfigError("a lookalike needs a destination that creates lookalikes (meta)", key=key)
        for dest in able:
            if not getattr(connectors[dest], "ad_account_id", None):
                raise ConfigError(
                    f"a lookalike needs connectors.{dest}.ad_account_id (the ad account it is created in)",
                    key=key,
                )


__all__ = ["catalog_id", "check_catalogs", "lookalike_destinations"]
