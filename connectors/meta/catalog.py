"""Product catalog items over Meta's Catalog Batch API.

``POST /{catalog_id}/items_batch`` with ``item_type=PRODUCT_ITEM`` and ``requests``: a JSON array of at
most 5,000 ``{"method": "CREATE"|"UPDATE"|"DELETE", "data": {"id": ..., <feed fields>}}``. Meta answers
``{"handles": [...], "validation_status": [{"retailer_id", "errors": [{"message"}], "warnings"}]}``:
an empty ``handles`` means nothing was ingested. The handle is then polled with
``GET /{catalog_id}/check_batch_request_status?handle=...``, which answers ``{"data": [{"status",
"errors_total_count", "errors": [{"line", "id", "message"}], "warnings", ...}]}`` until the status is
``finished`` (errors are the items not saved), ``error`` or ``canceled``.

The access token travels in the query string like every Graph call, so every text recorded from an
answer goes through the connector's mask.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import clip
from connectors.meta.errors import classify
from relay.catalog.api import BatchStatus, BatchTicket, ItemRequest
from relay.catalog.product import Product

if TYPE_CHECKING:
    from connectors.meta.connector import MetaConnector

MAX_REQUESTS = 5000
ITEM_TYPE = "PRODUCT_ITEM"
#: statuses after which polling stops (Meta: scheduled → dispatched → started → finished)
DONE = frozenset({"finished", "error", "canceled", "cancelled"})
MAX_ERROR_CHARS = 300


def item_data(product: Product) -> dict[str, Any]:
    """The feed fields of a product, in Meta's names; prices as ``"19.99 USD"``."""
    data: dict[str, Any] = {
        "id": product.id,
        "title": product.title,
        "description": product.description,
        "availability": product.availability,
        "condition": product.condition,
        "price": str(product.price),
        "link": product.link,
        "image_link": product.image_link,
    }
    if product.brand:
        data["brand"] = product.brand
    if product.sale_price is not None:
        data["sale_price"] = str(product.sale_price)
    return data


def batch_request(request: ItemRequest) -> dict[str, Any]:
    if request.method == "DELETE" or request.product is None:
        return {"method": "DELETE", "data": {"id": request.item_id}}
    return {"method": request.method, "data": item_data(request.product)}


def batch_body(requests: Sequence[ItemRequest]) -> dict[str, Any]:
    """The form of one ``items_batch`` call (``requests`` JSON-encoded, as the Graph API takes it)."""
    if not 1 <= len(requests) <= MAX_REQUESTS:
        raise ValueError(f"an items_batch call carries 1 to {MAX_REQUESTS} requests, not {len(requests)}")
    return {"item_type": ITEM_TYPE, "requests": json.dumps([batch_request(r) for r in requests])}


def _messages(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    return "; ".join(str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors)


def _list(value: Any) -> list[Any]:
    """A list the Graph API answered, or nothing (an answer of another shape is read as empty)."""
    return value if isinstance(value, list) else []


def read_ticket(answer: Any, mask: Any) -> BatchTicket:
    """``handles`` and the items refused at validation (``validation_status`` entries with errors)."""
    answer = answer if isinstance(answer, Mapping) else {}
    handles = [str(h) for h in _list(answer.get("handles")) if isinstance(h, str | int) and h]
    refused: dict[str, str] = {}
    for entry in _list(answer.get("validation_status")):
        if isinstance(entry, Mapping) and (text := _messages(entry.get("errors"))):
            refused[str(entry.get("retailer_id"))] = clip(mask(text), MAX_ERROR_CHARS)
    return BatchTicket(handles[0] if handles else None, refused)


def _item_errors(errors: Iterable[Any], mask: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in errors:
        if isinstance(error, Mapping) and error.get("id") is not None:
            text = clip(mask(str(error.get("message") or "refused")), MAX_ERROR_CHARS)
            out[str(error["id"])] = out.get(str(error["id"]), text)
    return out


def read_status(answer: Any, mask: Any) -> BatchStatus:
    """The first (only) element of ``check_batch_request_status``'s ``data``."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], Mapping) else {}
    state = str(first.get("status") or "unknown").lower()
    errors = first.get("errors")
    errors = errors if isinstance(errors, list) else []
    return BatchStatus(
        state, state in DONE, _item_errors(errors, mask), failed=state != "finished" and state in DONE
    )


class MetaCatalog:
    """The catalog client of a Meta connector (``MetaConnector.catalog_api()``)."""

    max_batch = MAX_REQUESTS

    def __init__(self, connector: MetaConnector) -> None:
        self.connector = connector

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        connector = self.connector
        response = await connector.request(method, url, **kwargs)
        if not response.is_success:
            raise classify(response, connector.mask)
        try:
            return response.json()
        except ValueError:
            return None

    async def send(self, catalog_id: str, requests: Sequence[ItemRequest]) -> BatchTicket:
        """``POST /{catalog_id}/items_batch``; the handle to poll and the items refused at once."""
        c = self.connector
        url = c.url(catalog_id, "items_batch")
        answer = await self._call("POST", url, params=c.auth_params(), data=batch_body(requests))
        return read_ticket(answer, c.mask)

    async def status(self, catalog_id: str, handle: str) -> BatchStatus:
        """``GET /{catalog_id}/check_batch_request_status?handle=...`` with the failed items' ids."""
        c = self.connector
        params = {"handle": handle, "load_ids_of_invalid_requests": "true", **c.auth_params()}
        answer = await self._call("GET", c.url(catalog_id, "check_batch_request_status"), params=params)
        return read_status(answer, c.mask)


__all__ = [
    "MAX_REQUESTS",
    "MetaCatalog",
    "batch_body",
    "batch_request",
    "item_data",
    "read_status",
    "read_ticket",
]
