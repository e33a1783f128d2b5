"""Catalog sources: a CSV file, a SQL query, or a feed URL (CSV, or JSON: a list of products or an
object holding one under ``data``, ``products`` or ``items``).

A catalog is read whole (tens of thousands of products fit in memory easily); rows that are not
usable products are counted with their reason and row number, and their ids are remembered so
that the sync neither sends nor deletes them.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from relay import tabular
from relay.catalog.product import COLUMNS, Product, ProductError, parse_product
from relay.catalog.settings import CatalogSourceSettings
from relay.exceptions import RelayError
from relay.masking import mask_url

MAX_FEED_BYTES = 200 * 1024 * 1024
MAX_SAMPLES = 20


class CatalogSourceError(RelayError):
    """The catalog's source could not be read."""


@dataclass
class CatalogRead:
    """What a source held: its products by id, and the rows left out with why."""

    products: dict[str, Product] = field(default_factory=dict)
    rows: int = 0
    invalid: int = 0
    #: ids of rows left out: their platform items are kept as they are (not deleted)
    invalid_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, number: int, row: Mapping[str, Any]) -> None:
        self.rows += 1
        try:
            product = parse_product(row)
        except ProductError as exc:
            self.invalid += 1
            if (pid := str(row.get("id") or "").strip()) != "":
                self.invalid_ids.add(pid)
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append(f"row {number}: {exc}")
            return
        if product.id in self.products:
            self.duplicates += 1
        self.products[product.id] = product  # the last row of an id wins, as in a feed

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "products": len(self.products),
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "invalid_samples": list(self.samples),
        }


def _normalised(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        name = str(key).strip().lower()
        if name in COLUMNS and value is not None:
            out[name] = value if not isinstance(value, str) else value.strip()
    return out


def read_rows(rows: Iterable[Mapping[str, Any]], first_number: int = 1) -> CatalogRead:
    read = CatalogRead()
    for number, row in enumerate(rows, start=first_number):
        read.add(number, _normalised(row))
    return read


def _csv_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    split = tabular.split_header(lines)
    if split is None:
        return
    header, records = split
    for record in records:
        if record:
            yield dict(zip(header, record, strict=False))


def read_csv(path: str) -> CatalogRead:
    with tabular.csv_file(path, CatalogSourceError) as handle:
        return read_rows(_csv_rows(handle), first_number=2)


def read_sql(url: str, query: str) -> CatalogRead:
    with tabular.sql_result(url, query, CatalogSourceError, "sql source") as result:
        return read_rows(dict(row._mapping) for row in result)


def parse_feed(body: bytes, fmt: str) -> CatalogRead:
    """A downloaded feed: CSV, or JSON (a list, or an object with ``data``/``products``/``items``)."""
    text = body.decode("utf-8-sig", errors="replace")
    if fmt == "csv":
        return read_rows(_csv_rows(io.StringIO(text, newline="")), first_number=2)
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogSourceError(f"the feed is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(decoded, dict):
        decoded = next((decoded[k] for k in ("data", "products", "items") if k in decoded), None)
    if not isinstance(decoded, list) or not all(isinstance(r, dict) for r in decoded):
        raise CatalogSourceError('a JSON feed must be a list of products (or {"products": [...]})')
    return read_rows(decoded)


async def read_url(client: httpx.AsyncClient, url: str, fmt: str | None) -> CatalogRead:
    where = mask_url(url)  # a feed URL may carry a key in its query
    try:
        response = await client.get(url, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise CatalogSourceError(f"feed {where}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise CatalogSourceError(f"feed {where} answered HTTP {response.status_code}")
    if len(response.content) > MAX_FEED_BYTES:
        raise CatalogSourceError(f"feed {where} is larger than {MAX_FEED_BYTES // 2**20} MB")
    kind = fmt or ("json" if "json" in response.headers.get("content-type", "") else "csv")
    return await asyncio.to_thread(parse_feed, response.content, kind)


async def read_source(source: CatalogSourceSettings, client: httpx.AsyncClient) -> CatalogRead:
    """Read a catalog source whole (files and queries in a thread, so the loop keeps serving)."""
    if source.type == "csv":
        return await asyncio.to_thread(read_csv, source.path or "")
    if source.type == "sql":
        return await asyncio.to_thread(read_sql, source.url or "", source.query or "")
    return await read_url(client, source.url or "", source.format)


__all__ = [
    "CatalogRead",
    "CatalogSourceError",
    "parse_feed",
    "read_csv",
    "read_rows",
    "read_source",
    "read_sql",
]
