"""Bulk statements for the ingest hot path, sent straight to the DB-API driver.

SQLAlchemy Core costs a few microseconds of Python per row and per statement, spent while the
database thread holds the GIL that the event loop needs; at thousands of events a second that
is most of the storage cost. These statements are plain portable SQL (the same text on SQLite and
PostgreSQL, only the placeholder differs) executed with the driver's own ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection


def _sql(conn: Connection, text: str) -> str:
    # qmark (sqlite3) or format/pyformat (psycopg): the statements hold no literal "%"
    return text if conn.dialect.paramstyle == "qmark" else text.replace("?", "%s")


def insert_many(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """``INSERT INTO table (columns) VALUES (...)`` for every row, in one driver ``executemany``."""
    if not rows:
        return
    marks = ", ".join("?" * len(columns))
    statement = _sql(conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})")
    conn.exec_driver_sql(statement, list(rows))


def select_in(
    conn: Connection, table: str, columns: Sequence[str], key: str, values: Iterable[Any]
) -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table WHERE key IN (values)``."""
    values = list(values)
    if not values:
        return []
    marks = ", ".join("?" * len(values))
    statement = _sql(conn, f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN ({marks})")
    return [tuple(row) for row in conn.exec_driver_sql(statement, tuple(values))]
