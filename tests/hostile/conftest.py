from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.hostile.run import observe
from tests.hostile.scenario import Observations


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observations]:
    """One relay per storage backend, attacked once; every test of the module reads the observations."""
    workdir: Path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        yield observe("sqlite", f"sqlite:///{workdir / 'relay.db'}", workdir)
        return
    # a database of its own: nothing shared with the other tests' PostgreSQL databases
    name = f"relay_hostile_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield observe("postgres", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", workdir)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
