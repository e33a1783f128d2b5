"""The building blocks every audience query shares: the table handles, chunked ``IN`` lists and
"insert unless present".

Statements are portable between SQLite and PostgreSQL; "insert unless present" uses each dialect's
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from relay.storage.audiences.tables import (
    AudienceApiIdentRow,
    AudienceApiMemberRow,
    AudiencePayloadRow,
    AudienceRunRow,
    AudienceScratchRow,
    AudienceStagingRow,
    AudienceStateRow,
    AudienceSuppressionRow,
    AudienceSyncRow,
    AudienceTargetRow,
)

payloads = AudiencePayloadRow.__table__  # type: ignore[attr-defined]
staging = AudienceStagingRow.__table__  # type: ignore[attr-defined]
state = AudienceStateRow.__table__  # type: ignore[attr-defined]
targets = AudienceTargetRow.__table__  # type: ignore[attr-defined]
syncs = AudienceSyncRow.__table__  # type: ignore[attr-defined]
runs = AudienceRunRow.__table__  # type: ignore[attr-defined]
api_members = AudienceApiMemberRow.__table__  # type: ignore[attr-defined]
api_idents = AudienceApiIdentRow.__table__  # type: ignore[attr-defined]
scratch = AudienceScratchRow.__table__  # type: ignore[attr-defined]
suppressions_t = AudienceSuppressionRow.__table__  # type: ignore[attr-defined]

#: bound parameters per IN list (SQLite allows 32766 per statement)
_IN_CHUNK = 5000
Page = list[tuple[str, str]]  # (member_key, canonical text)


def chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices small enough to bind as one ``IN`` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def matching(conn: Connection, column: Any, values: Sequence[str], *conditions: Any) -> set[str]:
    """Which of ``values`` stand in ``column`` on rows matching ``conditions`` (``IN`` lists bound in
    slices)."""
    found: set[str] = set()
    for chunk in chunks(values):
        found.update(conn.execute(select(column).where(*conditions, column.in_(chunk))).scalars())
    return found


def insert_ignore(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key is already present."""
    if not rows:
        return
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        dialect_insert = sqlite.insert if name == "sqlite" else postgresql.insert
        conn.execute(dialect_insert(table).on_conflict_do_nothing(), list(rows))
        return
    for row in rows:  # other databases: one savepoint per row
        try:
            with conn.begin_nested():
                conn.execute(insert(table), [row])
        except IntegrityError:
            pass


__all__ = [
    "Page",
    "api_idents",
    "api_members",
    "chunks",
    "insert_ignore",
    "matching",
    "payloads",
    "runs",
    "scratch",
    "staging",
    "state",
    "suppressions_t",
    "syncs",
    "targets",
]
