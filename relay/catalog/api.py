"""What the catalog sync needs from a connector: a client that sends item batches and tells how one
ended. A connector offers it with ``catalog_api()`` (Meta: ``connectors.meta.catalog``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from relay.catalog.product import Product

Method = Literal["CREATE", "UPDATE", "DELETE"]


@dataclass(frozen=True, slots=True)
class ItemRequest:
    """One change of one item; ``product`` is None for a DELETE."""

    method: Method
    item_id: str
    product: Product | None = None


@dataclass(frozen=True)
class BatchTicket:
    """The platform took a batch: the handle to poll (None when nothing was ingested) and the items it
    refused straight away, by id."""

    handle: str | None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchStatus:
    """How a batch stands: ``finished`` once the platform is done with it; ``errors`` by item id."""

    state: str
    finished: bool
    errors: dict[str, str] = field(default_factory=dict)
    #: the platform gave up on the whole batch (its items may or may not have been saved)
    failed: bool = False


@runtime_checkable
class CatalogApi(Protocol):
    max_batch: int

    async def send(self, catalog_id: str, requests: Sequence[ItemRequest]) -> BatchTicket: ...

    async def status(self, catalog_id: str, handle: str) -> BatchStatus: ...


__all__ = ["BatchStatus", "BatchTicket", "CatalogApi", "ItemRequest", "Method"]
