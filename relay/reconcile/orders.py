"""Reading orders: a CSV file with a header row, or the rows of a SQL query.

Columns (any order; the names in brackets are accepted too): ``order_id`` [id, order], ``time``
[created_at, ordered_at, date] as ISO-8601 or Unix seconds, ``value`` [total, amount], ``currency``,
and for ``--send-missing`` the optional ``email``, ``phone``, ``country`` and the order's consent
signals ``consent_tcf``, ``consent_gpp``, ``consent_usp``, ``consent_gcs`` (Google's ``G1xy`` form).
A row that cannot be read is reported by its line number, never by its content.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from relay import tabular
from relay.duration import parse_instant
from relay.exceptions import RelayError
from relay.settings import ReconcileSourceSettings

ALIASES = {
    "order_id": ("order_id", "id", "order"),
    "time": ("time", "created_at", "ordered_at", "date"),
    "value": ("value", "total", "amount"),
    "currency": ("currency",),
    "email": ("email",),
    "phone": ("phone",),
    "country": ("country",),
    "tcf": ("consent_tcf", "tcf"),
    "gpp": ("consent_gpp", "gpp"),
    "usp": ("consent_usp", "usp"),
    "gcs": ("consent_gcs", "gcs"),
}
CONSENT_KEYS = ("tcf", "gpp", "usp", "gcs")
MAX_ORDER_ID = 255


class OrdersError(RelayError):
    """The orders could not be read at all."""


@dataclass(frozen=True)
class Order:
    order_id: str
    at: float
    value: float | None
    currency: str | None
    line: int
    contact: Mapping[str, str] = field(default_factory=dict)
    consent: Mapping[str, str] = field(default_factory=dict)


@dataclass
class OrderBatch:
    orders: list[Order] = field(default_factory=list)
    #: (line, reason) of the rows left out
    invalid: list[tuple[int, str]] = field(default_factory=list)


def _canonical(names: Iterable[str]) -> dict[int, str]:
    lookup = {alias: key for key, aliases in ALIASES.items() for alias in aliases}
    out: dict[int, str] = {}
    for i, name in enumerate(names):
        key = lookup.get(str(name).strip().lower())
        if key is not None and key not in out.values():
            out[i] = key
    missing = [k for k in ("order_id", "time") if k not in out.values()]
    if missing:
        raise OrdersError(f"the orders have no {' or '.join(missing)} column (see `relay reconcile --help`)")
    return out


def _time(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return aware.timestamp()
    at = parse_instant(value)
    if at is None or not math.isfinite(at):
        raise ValueError("no time")
    return at


def _value(value: Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if "," in text and "." not in text:  # a decimal comma (a European spreadsheet's export)
        text = text.replace(",", ".")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("not a number")
    return number


def to_order(row: Mapping[str, Any], line: int) -> Order:
    """One order from a row of canonical keys; ``ValueError`` names what is wrong (not the value)."""
    order_id = str(row.get("order_id") or "").strip()
    if not order_id or len(order_id) > MAX_ORDER_ID:
        raise ValueError("missing or over-long order_id")
    try:
        at = _time(row.get("time"))
    except (ValueError, TypeError, OverflowError):
        raise ValueError("time is not ISO-8601 or Unix seconds") from None
    try:
        value = _value(row.get("value"))
    except (ValueError, TypeError):
        raise ValueError("value is not a number") from None
    currency = str(row.get("currency") or "").strip().upper() or None
    contact = {k: str(row[k]).strip() for k in ("email", "phone", "country") if row.get(k)}
    consent = {k: str(row[k]).strip() for k in CONSENT_KEYS if row.get(k)}
    return Order(order_id, at, value, currency, line, contact, consent)


def collect(rows: Iterator[tuple[int, dict[str, Any]]]) -> OrderBatch:
    batch = OrderBatch()
    for line, row in rows:
        try:
            batch.orders.append(to_order(row, line))
        except ValueError as exc:
            batch.invalid.append((line, str(exc)))
    return batch


def _delimiter(header_line: str) -> str:
    # the most frequent of semicolon and comma (a European spreadsheet's export), else a tab if any
    if header_line.count(";") > header_line.count(","):
        return ";"
    return "\t" if "\t" in header_line else ","


def csv_orders(path: str) -> OrderBatch:
    """The orders of a CSV file (comma, semicolon or tab separated, UTF-8)."""
    with tabular.csv_file(path, OrdersError) as handle:
        split = tabular.split_header(handle, _delimiter)
        if split is None:
            return OrderBatch()
        header, reader = split
        columns = _canonical(header)
        rows = (
            (reader.line_num + 1, {key: record[i] for i, key in columns.items() if i < len(record)})
            for record in reader
            if record
        )
        return collect(rows)


def sql_orders(url: str, query: str) -> OrderBatch:
    """The orders a SQL query returns."""
    with tabular.sql_result(url, query, OrdersError, "sql orders") as result:
        columns = _canonical(result.keys())
        rows = ((n, {key: r[i] for i, key in columns.items()}) for n, r in enumerate(result, start=1))
        return collect(rows)


def read_orders(source: ReconcileSourceSettings) -> OrderBatch:
    if source.type == "csv":
        if not source.path:
            raise OrdersError("reconcile.source: a csv source needs a path")
        return csv_orders(source.path)
    if not source.url or not source.query:
        raise OrdersError("reconcile.source: a sql source needs a url and a query")
    return sql_orders(source.url, source.query)


def describe(source: ReconcileSourceSettings) -> str:
    """The source as the report names it (a SQL source by its query's first words, never its url)."""
    return f"csv {source.path}" if source.type == "csv" else f"sql {(source.query or '')[:60]}"


__all__ = ["Order", "OrderBatch", "OrdersError", "csv_orders", "describe", "read_orders", "sql_orders"]
