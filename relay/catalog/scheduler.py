"""The catalog scheduler: runs each catalog on its ``schedule`` inside ``relay serve`` / ``relay worker``.

When a catalog is due is computed from the database (see ``relay.periodic``); the run lock makes sure
only one worker runs it. ``schedule: manual`` catalogs run only from ``relay catalog sync``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relay import periodic
from relay.catalog.settings import CatalogSettings
from relay.catalog.sync import CatalogEnv, CatalogOptions, sync_catalog
from relay.storage import catalog as store

#: the outcomes after which a scheduled run is tried again soon
RETRY = ("failed", "partial", "interrupted")


def next_run_at(catalog: CatalogSettings, row: Mapping[str, Any] | None, now: float) -> float | None:
    """When the scheduler runs the catalog next (None for ``schedule: manual``)."""
    return periodic.next_run_at(catalog.schedule, row, now, retry=RETRY)


class CatalogScheduler(periodic.LockedScheduler[CatalogEnv]):
    """One loop per scheduled catalog."""

    kind, retry = "catalog", RETRY

    def __init__(self, env: CatalogEnv, options: CatalogOptions | None = None) -> None:
        super().__init__(env, env.settings.catalogs, store.sync_rows, "relay.catalog")
        self.options = options or CatalogOptions()

    async def sync(self, name: str) -> str:
        return (await sync_catalog(self.env, name, self.options)).status


__all__ = ["RETRY", "CatalogScheduler", "next_run_at"]
