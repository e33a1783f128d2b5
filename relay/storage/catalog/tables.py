"""Tables of the product catalog sync and of lookalike audiences (migration 0006).

``catalog_items`` is the catalog sync's memory: per (catalog, destination) the items the platform
took, each with the fingerprint of what it got, so that a sync sends only what changed.
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from relay.storage.audiences.tables import RunLockColumns


class CatalogItemRow(SQLModel, table=True):
    """An item the relay sent to a platform catalog (``refused``: the platform reported an error)."""

    __tablename__ = "catalog_items"

    catalog: str = Field(primary_key=True, max_length=100)
    destination: str = Field(primary_key=True, max_length=100)
    item_id: str = Field(primary_key=True, max_length=100)
    fingerprint: str = Field(max_length=64)
    refused: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: float


class CatalogSyncRow(RunLockColumns, table=True):
    """One catalog's run lock and its last run."""

    __tablename__ = "catalog_syncs"

    catalog: str = Field(primary_key=True, max_length=100)


class LookalikeRow(SQLModel, table=True):
    """A lookalike audience the relay created or found for (audience, destination, country, ratio)."""

    __tablename__ = "lookalike_audiences"

    audience: str = Field(primary_key=True, max_length=100)
    destination: str = Field(primary_key=True, max_length=100)
    spec: str = Field(primary_key=True, max_length=20)  # "US:0.01"
    origin_audience_id: str = Field(max_length=255)
    lookalike_id: str | None = Field(default=None, max_length=255)
    name: str = Field(max_length=255)
    status: str = Field(max_length=20)  # created | found | waiting | failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: float


catalog_items = CatalogItemRow.__table__  # type: ignore[attr-defined]
catalog_syncs = CatalogSyncRow.__table__  # type: ignore[attr-defined]
lookalikes = LookalikeRow.__table__  # type: ignore[attr-defined]

__all__ = [
    "CatalogItemRow",
    "CatalogSyncRow",
    "LookalikeRow",
    "catalog_items",
    "catalog_syncs",
    "lookalikes",
]
