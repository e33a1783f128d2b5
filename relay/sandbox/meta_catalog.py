"""The fake Graph API's product catalogs (Catalog Batch API) and lookalike audiences.

``POST /{catalog_id}/items_batch`` checks each request like Meta: a request without ``data.id`` is
refused at once (``validation_status``); an item missing a required field or with a malformed price is
refused when the batch is processed (``check_batch_request_status`` errors) and not saved. A batch
answers ``started`` to its first ``polls_before_finished`` status checks, then ``finished``.
``POST /act_{id}/customaudiences`` creates lookalikes from an audience that has members, refusing a
duplicate (same origin, country and ratio) with code 2654 as Meta does.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.sandbox.meta_rules import GraphFault

AVAILABILITY = frozenset({"in stock", "out of stock", "preorder", "available for order", "discontinued"})
REQUIRED = ("title", "description", "availability", "condition", "price", "link", "image_link")
MAX_REQUESTS = 5000
_PRICE = re.compile(r"[0-9]+(\.[0-9]{1,2})? [A-Z]{3}")


@dataclass
class Batch:
    catalog_id: str
    errors: list[dict[str, Any]]
    polls: int = 0


@dataclass
class FakeCatalogs:
    """State: :attr:`items` per catalog, :attr:`batches` by handle, :attr:`lookalikes` per ad account."""

    #: audience id → members; a lookalike's origin must have some
    audiences: Mapping[str, set[Any]]
    polls_before_finished: int = 1
    #: item id → the message a test makes the fake refuse it with when the batch is processed
    refuse: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    lookalikes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def reset(self) -> None:
        self.items.clear()
        self.batches.clear()
        self.lookalikes.clear()

    def state(self) -> dict[str, Any]:
        return {
            "catalogs": {cid: len(items) for cid, items in self.items.items()},
            "catalog_items": {
                cid: sorted(items.values(), key=lambda i: i["id"])[:50] for cid, items in self.items.items()
            },
            "lookalikes": self.lookalikes,
        }

    # -- Catalog Batch API

    def items_batch(self, catalog_id: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("item_type") != "PRODUCT_ITEM":
            raise GraphFault("Invalid parameter: item_type must be one of PRODUCT_ITEM, ...")
        requests = _json(params.get("requests"))
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_REQUESTS:
            raise GraphFault(
                f"Invalid parameter: requests must be a JSON array of 1 to {MAX_REQUESTS} requests"
            )
        validation: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        catalog = self.items.setdefault(catalog_id, {})
        for line, request in enumerate(requests):
            data = request.get("data") if isinstance(request, dict) else None
            item_id = data.get("id") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(item_id, str) or not item_id:
                validation.append(
                    {"retailer_id": str(item_id), "errors": [{"message": "data.id is required"}]}
                )
                continue
            problem = self._apply(catalog, str(request.get("method")), item_id, data)
            if problem:
                errors.append({"line": line, "id": item_id, "message": problem})
        handle = secrets.token_urlsafe(24)
        self.batches[handle] = Batch(catalog_id, errors)
        return {"handles": [handle], "validation_status": validation}

    def _apply(
        self, catalog: dict[str, dict[str, Any]], method: str, item_id: str, data: dict[str, Any]
    ) -> str | None:
        if method == "DELETE":
            catalog.pop(item_id, None)
            return None
        if item_id in self.refuse:
            return self.refuse[item_id]
        if method not in ("CREATE", "UPDATE"):
            return f"Invalid value: method must be CREATE, UPDATE or DELETE, not {method[:20]!r}"
        merged = {**catalog.get(item_id, {}), **data}
        missing = [f for f in REQUIRED if not merged.get(f)]
        if missing:
            return f"You cannot create a ProductItem without required field {missing[0]}"
        for key in ("price", "sale_price"):
            if key in merged and not _PRICE.fullmatch(str(merged[key])):
                return f"Invalid value for {key}: write an amount and an ISO 4217 currency, e.g. '9.99 USD'"
        if merged["availability"] not in AVAILABILITY:
            return "Invalid value for availability"
        catalog[item_id] = merged
        return None

    def batch_status(self, catalog_id: str, params: dict[str, Any]) -> dict[str, Any]:
        batch = self.batches.get(str(params.get("handle") or ""))
        if batch is None or batch.catalog_id != catalog_id:
            raise GraphFault("Invalid parameter: unknown handle for this catalog")
        batch.polls += 1
        if batch.polls <= self.polls_before_finished:
            return {"data": [{"status": "started", "errors_total_count": 0, "errors": [], "warnings": []}]}
        ids = (
            [e["id"] for e in batch.errors]
            if str(params.get("load_ids_of_invalid_requests")) == "true"
            else []
        )
        status = {"status": "finished", "errors_total_count": len(batch.errors), "errors": batch.errors}
        return {"data": [{**status, "warnings": [], "ids_of_invalid_requests": ids}]}

    # -- lookalike audiences

    def list_audiences(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        everything = self.lookalikes.get(_account(account), [])
        limit = max(1, min(int(params.get("limit") or 25), 500))
        start = int(params.get("after") or 0)
        page = everything[start : start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if start + limit < len(everything):
            paging["next"] = f"?after={start + limit}"
        return {"data": page, "paging": paging}

    def create_audience(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("subtype") != "LOOKALIKE":
            raise GraphFault("Invalid parameter: this sandbox creates only subtype=LOOKALIKE audiences")
        origin = str(params.get("origin_audience_id") or "")
        if not self.audiences.get(origin):
            raise GraphFault(
                "Invalid parameter: the origin audience does not exist or has no members", subcode=1713007
            )
        spec = _json(params.get("lookalike_spec"))
        if not isinstance(spec, dict) or not isinstance(spec.get("ratio"), int | float):
            raise GraphFault("Invalid parameter: lookalike_spec needs ratio and country")
        ratio, country = float(spec["ratio"]), str(spec.get("country") or "")
        if not 0.01 <= ratio <= 0.2 or not re.fullmatch(r"[A-Z]{2}", country):
            raise GraphFault("Invalid parameter: lookalike_spec ratio 0.01 to 0.20 and an ISO country code")
        listed = self.lookalikes.setdefault(_account(account), [])
        for existing in listed:
            s = existing["lookalike_spec"]
            if s["origin"][0]["id"] == origin and s["country"] == country and s["ratio"] == ratio:
                raise GraphFault(
                    "Can't create a duplicate lookalike: You've already created a Lookalike Audience "
                    "with the same source, country and size.",
                    code=2654,
                )
        new_id = str(23850000000000000 + secrets.randbelow(10**12))
        spec_out = {
            "country": country,
            "ratio": ratio,
            "type": "custom_ratio",
            "origin": [{"id": origin, "type": "custom_audience"}],
        }
        listed.append(
            {
                "id": new_id,
                "name": str(params.get("name") or ""),
                "subtype": "LOOKALIKE",
                "lookalike_spec": spec_out,
            }
        )
        return {"id": new_id}


def _account(node: str) -> str:
    if not node.startswith("act_"):
        raise GraphFault(
            "Unsupported post request: customaudiences lives on an ad account (act_<id>)", code=100
        )
    return node


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise GraphFault("Invalid parameter: not valid JSON") from None
    return value


__all__ = ["Batch", "FakeCatalogs"]
