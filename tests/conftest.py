from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

#: the public test vectors (Meta docs examples, OAuth 1.0a, X hashing, TCF, GPP/USP), committed so that
#: `make test` passes from any fresh clone
VECTORS = Path(__file__).resolve().parent / "vectors" / "public"


@pytest.fixture(autouse=True, scope="session")
def _one_tls_context() -> Iterator[None]:
    """One TLS context for every httpx client the tests make: httpx loads the whole CA bundle for each
    new client (~30 ms of CPU), and the tests make thousands, all speaking plain HTTP on loopback. The
    context is the one httpx would make (same arguments); a context is safe to share between clients."""
    from httpx._transports import default

    original = getattr(default, "create_ssl_context", None)
    if original is None:  # another httpx: nothing to share
        yield
        return
    made: dict[tuple[Any, ...], Any] = {}

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        key = (verify, cert, trust_env)
        if not isinstance(verify, bool | str) or cert is not None:
            return original(verify, cert, trust_env)
        if key not in made:
            made[key] = original(verify, cert, trust_env)
        return made[key]

    default.create_ssl_context = shared  # type: ignore[assignment]
    try:
        yield
    finally:
        default.create_ssl_context = original


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The public test vectors committed under ``tests/vectors/public``."""
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}")
    return VECTORS


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server for this test session, dropped afterwards."""
    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the machine kind starts PostgreSQL before every session and CI run
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_fresh_url(pg_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied after the test."""
    yield pg_url
    _reset_schema(pg_url)


def _reset_schema(url: str) -> None:
    """Empty the database for the next test: its tables truncated when they are the relay's own at the
    migrations' head (the next test's migration is then a version check, not 0.2 s of DDL), else the
    schema dropped (a test that made tables of its own, or left the schema at another revision)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = set(
            conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
        version = None
        if "alembic_version" in tables:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        own = tables - {"alembic_version"}
        if own and own <= _relay_tables() and version == _migrations_head():
            conn.execute(text(f"TRUNCATE {', '.join(sorted(own))} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@functools.cache
def _relay_tables() -> frozenset[str]:
    """The relay's tables (a table module missing here only costs a schema drop)."""
    import relay.storage.audiences.tables
    import relay.storage.catalog.tables  # noqa: F401  (each registers its tables on the metadata)
    from relay.storage.tables import SQLModel

    return frozenset(SQLModel.metadata.tables)


@functools.cache
def _migrations_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from relay.storage.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real database: a SQLite file, and the PostgreSQL server (tables emptied per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'relay.db'}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    _reset_schema(url)
