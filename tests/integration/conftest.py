"""What the integration tests share: a migrated database on each of the real back ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.storage.db import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database (a SQLite file, and the PostgreSQL server), closed after the test."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.close()
