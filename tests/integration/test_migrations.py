"""The migrations and the table definitions describe one schema: a database brought to head by alembic
has exactly the tables, columns, indexes and keys of the SQLAlchemy metadata, on a fresh SQLite file and on
PostgreSQL. A table change without its migration (or a migration without its table change) fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import relay.storage.audiences.tables
import relay.storage.tables  # noqa: F401  (registers the tables on the metadata)
from relay.storage.db import make_engine, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def migrated(db_url: str) -> Iterator[Engine]:
    """A fresh database (SQLite file, PostgreSQL) brought to head by the migrations."""
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What alembic's autogenerate would write to go from the database to ``metadata`` (nothing: same)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        return [d for d in compare_metadata(context, metadata) if not _is_alembic_own(d)]


def _is_alembic_own(diff: Any) -> bool:
    """alembic's own bookkeeping table is in the database, never in the metadata."""
    return bool(diff[0] == "remove_table" and diff[1].name == "alembic_version")


def test_a_database_migrated_to_head_has_exactly_the_schema_of_the_tables(migrated: Engine) -> None:
    assert differences(migrated, SQLModel.metadata) == []


def test_a_table_change_without_its_migration_is_found(migrated: Engine) -> None:
    """The check itself can fail: a column added to one table, and a table no migration creates."""
    changed = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    events = changed.tables["events"]
    events.append_column(Column("unmigrated_column", Integer, nullable=True))
    Table("unmigrated_table", changed, Column("id", Integer, primary_key=True))
    found = {(d[0], getattr(d[-1], "name", None)) for d in _flat(migrated, changed)}
    assert ("add_column", "unmigrated_column") in found
    assert ("add_table", "unmigrated_table") in found
    assert "events" in inspect(migrated).get_table_names()


def _flat(engine: Engine, metadata: MetaData) -> list[Any]:
    # column changes come as lists of tuples; table and column additions as single tuples
    flat: list[Any] = []
    for diff in differences(engine, metadata):
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat
