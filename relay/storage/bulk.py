"""Bulk statements for the hot paths, sent straight to the DB-API driver.

SQLAlchemy Core costs a few microseconds of Python per row and per statement, spent while the
database thread holds the GIL that the event loop needs; at thousands of events a second that
is most of the storage cost. These statements are plain portable SQL (the same text on SQLite and
PostgreSQL, only the placeholder differs), built once, executed with the driver's own
``executemany`` (sqlite3 steps the statement without the GIL; psycopg 3 pipelines the rows).

Rows are typed: a frozen dataclass whose fields are named after the table's columns
(:class:`RowInsert` checks them against the table once, at import), never a positional tuple that
must match a column list kept somewhere else.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Table

R = TypeVar("R")


def sql(conn: Connection, text: str) -> str:
    """``text`` written with ``?`` placeholders, in the driver's paramstyle: qmark (sqlite3) or
    format (psycopg); the statements hold no literal ``%``."""
    return text if conn.dialect.paramstyle == "qmark" else text.replace("?", "%s")


def marks(count: int) -> str:
    """``(?, ?, ...)`` for an ``IN`` of ``count`` values."""
    return f"({', '.join('?' * count)})"


class RowInsert(Generic[R]):
    """``INSERT INTO table`` of rows given as instances of ``row_type``, a dataclass whose field names
    are columns of ``table``; the statement text is built once, the values read by one ``attrgetter``."""

    def __init__(self, table: Table, row_type: type[R]) -> None:
        self.columns = tuple(f.name for f in dataclasses.fields(row_type))  # type: ignore[arg-type]
        unknown = set(self.columns) - set(table.c.keys())
        if unknown:
            raise TypeError(f"{row_type.__name__} has fields that are not columns of {table.name}: {unknown}")
        self._values: Callable[[R], tuple[Any, ...]] = operator.attrgetter(*self.columns)
        qmark = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES {marks(len(self.columns))}"
        self._text = {"qmark": qmark, "format": qmark.replace("?", "%s")}

    def values(self, row: R) -> tuple[Any, ...]:
        """The row's values in column order."""
        return self._values(row)

    def run(self, conn: Connection, rows: Sequence[R]) -> None:
        """Insert every row in one driver ``executemany``."""
        self.run_values(conn, [self._values(row) for row in rows])

    def run_values(self, conn: Connection, values: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows already given as tuples in :attr:`columns` order (the hot path builds them
        without an intermediate object; a test proves each builder's order against the row type)."""
        if not values:
            return
        text = self._text["qmark" if conn.dialect.paramstyle == "qmark" else "format"]
        conn.exec_driver_sql(text, values)


def select_in(
    conn: Connection, table: str, columns: Sequence[str], key: str, values: Iterable[Any]
) -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table WHERE key IN (values)``."""
    values = list(values)
    if not values:
        return []
    statement = sql(conn, f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN {marks(len(values))}")
    return [tuple(row) for row in conn.exec_driver_sql(statement, tuple(values))]
