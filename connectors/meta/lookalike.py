"""Lookalike audiences on Meta (``POST /act_{ad_account_id}/customaudiences``, ``subtype=LOOKALIKE``).

A lookalike is created from an origin (seed) custom audience with ``origin_audience_id`` and
``lookalike_spec = {"country": "US", "ratio": 0.01}`` (ratio 0.01 to 0.20: the top 1 to 20% of the country's
population most like the seed; ``type`` is left out, since Meta ignores ``ratio`` when both are given).
Meta refuses a second lookalike with the same seed, country and size (code 2654), so before creating
one the account's lookalikes are listed (``GET /act_{id}/customaudiences?fields=...``) and an existing
one is reused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.http import json_body
from connectors.meta.errors import classify, parse_graph_error

if TYPE_CHECKING:
    from connectors.meta.connector import MetaConnector

DUPLICATE_LOOKALIKE = 2654
FIELDS = "id,name,subtype,lookalike_spec"
MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class PlatformLookalike:
    id: str
    name: str
    origin_audience_id: str | None
    country: str | None
    ratio: float | None


def create_form(name: str, origin_audience_id: str, country: str, ratio: float) -> dict[str, str]:
    """The form of the create call."""
    return {
        "name": name,
        "subtype": "LOOKALIKE",
        "origin_audience_id": origin_audience_id,
        "lookalike_spec": json.dumps({"country": country, "ratio": ratio}),
    }


def _spec(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _ratio(value: Any) -> float | None:
    """A listed size as a fraction; None for anything that is not a finite number (a JSON integer can be
    larger than any float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        ratio = float(value)
    except OverflowError:
        return None
    return ratio if math.isfinite(ratio) else None


def read_lookalike(entry: Mapping[str, Any]) -> PlatformLookalike:
    """One listed audience; its origin is ``lookalike_spec.origin[0].id`` (or ``origin_audience_id``)."""
    spec = _spec(entry.get("lookalike_spec"))
    origin = spec.get("origin")
    origin_id = (
        origin[0].get("id")
        if isinstance(origin, list) and origin and isinstance(origin[0], Mapping)
        else None
    )
    origin_id = origin_id or spec.get("origin_audience_id") or entry.get("origin_audience_id")
    country = spec.get("country")
    if country is None and isinstance(spec.get("target_countries"), list) and spec["target_countries"]:
        country = spec["target_countries"][0]
    ratio = spec.get("ratio")
    return PlatformLookalike(
        id=str(entry.get("id")),
        name=str(entry.get("name") or ""),
        origin_audience_id=None if origin_id is None else str(origin_id),
        country=None if country is None else str(country).upper(),
        ratio=_ratio(ratio),
    )


def next_cursor(body: Any) -> str | None:
    """The ``after`` cursor of a listing page that has a next page; None on the last page, and on an
    answer of another shape (read as the last page)."""
    paging = body.get("paging") if isinstance(body, Mapping) else None
    if not isinstance(paging, Mapping) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, Mapping) else None
    return str(after) if isinstance(after, str | int) and not isinstance(after, bool) and after else None


class MetaLookalikes:
    """The lookalike client of a Meta connector (``MetaConnector.lookalike_api()``)."""

    def __init__(self, connector: MetaConnector) -> None:
        self.connector = connector

    def _account(self) -> str:
        account = getattr(self.connector.settings, "ad_account_id", None)
        if not account:
            raise ValueError(f"connector {self.connector.name!r} has no ad_account_id")
        return f"act_{account}"

    async def list(self) -> list[PlatformLookalike]:
        """The ad account's lookalike audiences (every page)."""
        c = self.connector
        params: dict[str, str] = {"fields": FIELDS, "limit": "200", **c.auth_params()}
        found: list[PlatformLookalike] = []
        for _ in range(MAX_PAGES):
            response = await c.request("GET", c.url(self._account(), "customaudiences"), params=params)
            if not response.is_success:
                raise classify(response, c.mask)
            body = json_body(response)
            data = body.get("data") if isinstance(body, Mapping) else None
            for entry in data if isinstance(data, list) else []:
                if isinstance(entry, Mapping) and entry.get("subtype", "LOOKALIKE") == "LOOKALIKE":
                    found.append(read_lookalike(entry))
            after = next_cursor(body)
            if after is None:
                break
            params = {**params, "after": after}
        return found

    async def create(self, name: str, origin_audience_id: str, country: str, ratio: float) -> str | None:
        """The new lookalike's id; None when Meta says one with this seed, country and size exists."""
        c = self.connector
        response = await c.request(
            "POST",
            c.url(self._account(), "customaudiences"),
            params=c.auth_params(),
            data=create_form(name, origin_audience_id, country, ratio),
        )
        if not response.is_success:
            error = parse_graph_error(response)
            if error is not None and error.code == DUPLICATE_LOOKALIKE:
                return None
            raise classify(response, c.mask)
        body = json_body(response)
        return str(body["id"]) if isinstance(body, Mapping) and body.get("id") else None


__all__ = [
    "DUPLICATE_LOOKALIKE",
    "MetaLookalikes",
    "PlatformLookalike",
    "create_form",
    "next_cursor",
    "read_lookalike",
]
