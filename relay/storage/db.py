"""The database: a SQLAlchemy engine, migrations, and an async façade over a thread pool.

SQLAlchemy's sync engine runs in worker threads; on SQLite a single thread serialises every
statement (one writer, no ``database is locked``), on PostgreSQL a small pool runs them in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from relay.exceptions import StorageError

T = TypeVar("T")
SYNCHRONOUS = ("full", "normal")
MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    # a bare postgresql:// URL means psycopg 3, the driver we install
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, synchronous: str = "full") -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and full fsync (a 202 means durable), or with
    ``synchronous="normal"`` (opt-in, ``storage.synchronous``) an fsync only at checkpoints: a commit
    then survives a crash of the process, not a power cut."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"storage.synchronous must be one of {', '.join(SYNCHRONOUS)}")
    url = normalise_url(url)
    parsed = make_url(url)
    json_options: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=4, **json_options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **json_options)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _json_dumps(value: Any) -> str:
    # orjson: the JSON columns are on the ingest hot path; non-str keys and big ints fall back to json
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        import json

        return json.dumps(value)


def upgrade(engine: Engine) -> None:
    """Apply every migration (``relay db upgrade``; also run at start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The engine plus the thread pool that runs blocking calls for async code."""

    def __init__(self, url: str, *, synchronous: str = "full") -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, synchronous)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._pool = ThreadPoolExecutor(max_workers=1 if self.is_sqlite else 8, thread_name_prefix="relay-db")
        self._checkpointer: WalCheckpointer | None = None

    def start_checkpointer(self, interval: float = 0.25) -> None:
        """On a SQLite file, checkpoint the WAL from a thread of its own, so the writer seldom has to
        (an automatic checkpoint inside a commit stalls every request waiting for that commit)."""
        database = self.engine.url.database
        if self.is_sqlite and database and database != ":memory:" and self._checkpointer is None:
            self._checkpointer = WalCheckpointer(database, interval)
            self._checkpointer.start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the pool; database failures become :class:`StorageError`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(_guard, fn, *args))

    def migrate(self) -> None:
        try:
            upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"migrations failed: {type(exc).__name__}: {exc.__class__.__doc__}") from exc

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._pool.shutdown(wait=True)
        self.engine.dispose()


class WalCheckpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds on its own connection;
    a passive checkpoint never blocks writers or readers."""

    def __init__(self, path: str, interval: float) -> None:
        super().__init__(name="relay-wal-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=1, check_same_thread=False)
        try:
            while not self._stop_event.wait(self.interval):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def _guard(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except SQLAlchemyError as exc:
        raise StorageError(f"storage error: {type(exc).__name__}") from exc
