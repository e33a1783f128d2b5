"""A stored JSON column read in SQL so that one malformed value costs its own row only.

PostgreSQL's ``json`` type refuses malformed JSON when it is written; SQLite keeps any text in any
column (a row edited by hand, a restored backup), and its JSON functions then fail the whole statement
on that one row: a report, an audience rule or a reconciliation would fail for every row. Read through
:class:`readable`, such a value is NULL on SQLite (the row has no such key); elsewhere the column is
read as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class readable(FunctionElement[Any]):
    """``column`` where it holds valid JSON, else NULL (SQLite); the column itself elsewhere. Typed as
    JSON: ``readable(col)[key].as_string()`` and the other JSON operators work on it."""

    type = JSON()
    name = "readable_json"
    inherit_cache = True


def _column(element: readable, compiler: SQLCompiler, **kw: Any) -> str:
    [column] = list(element.clauses)
    return str(compiler.process(column, **kw))


@compiles(readable, "sqlite")
def _sqlite(element: readable, compiler: SQLCompiler, **kw: Any) -> str:
    column = _column(element, compiler, **kw)
    return f"(CASE WHEN json_valid({column}) THEN {column} END)"


@compiles(readable)
def _default(element: readable, compiler: SQLCompiler, **kw: Any) -> str:
    return _column(element, compiler, **kw)


def readable_columns(table: Table) -> list[Any]:
    """Every column of ``table``, its JSON ones through :class:`readable` under their own names: a row
    selected whole, with a malformed JSON value read as NULL."""
    return [readable(c).label(c.name) if isinstance(c.type, JSON) else c for c in table.c]


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object column's value as read: a dict, or ``{}`` for NULL or anything that is not an object
    (SQLite keeps a JSON array or a string where an object belongs as well)."""
    return value if isinstance(value, dict) else {}


__all__ = ["as_object", "readable", "readable_columns"]
