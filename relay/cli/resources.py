"""What a one-shot command (``relay audiences sync``, ``relay catalog sync``, ``relay reconcile``) opens
and closes: the database, migrated, the shared HTTP client and the connectors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from connectors.base import Connector
from relay.settings import Settings
from relay.state import build_connectors, make_client
from relay.storage.db import Database


@dataclass(frozen=True)
class Resources:
    """The open database, HTTP client and connectors (none when the command sends nothing)."""

    db: Database
    client: httpx.AsyncClient
    connectors: dict[str, Connector]


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, connectors: bool = True) -> AsyncIterator[Resources]:
    """The command's resources, closed when it is done (connectors first, the database last)."""
    db = Database(settings.storage.url)
    client = make_client(settings)
    built = build_connectors(settings, client) if connectors else {}
    try:
        await db.run(db.migrate)
        yield Resources(db, client, built)
    finally:
        for connector in built.values():
            await connector.aclose()
        await client.aclose()
        db.close()


__all__ = ["Resources", "opened"]
