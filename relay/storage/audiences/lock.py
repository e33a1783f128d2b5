"""The run lock and the record of the last run: one row per audience (or catalog) holding a leased owner.

A table of :class:`~relay.storage.audiences.tables.RunLockColumns` keyed by a name; :class:`RunLock`
holds its statements and ``acquire``/``renew``/``release``/``sync_rows`` are the audiences' own.
Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, func, or_, select, update

from relay.storage.audiences.sql import insert_ignore, syncs


@dataclass(frozen=True)
class RunLock:
    """The lock of the runs named in ``table``'s ``key`` column (one run of a name at a time)."""

    table: Table
    key: str

    def acquire(
        self, engine: Engine, name: str, owner: str, now: float, lease: float, *, record: bool = True
    ) -> bool:
        """Take the lock of ``name`` unless a live lease holds it; ``record`` marks a run as started."""
        t = self.table
        with engine.begin() as conn:
            insert_ignore(conn, t, [{self.key: name, "status": "never"}])
        values: dict[str, Any] = {"owner": owner, "lease_until": now + lease}
        if record:
            values.update(status="running", started_at=now)
        free = or_(t.c.owner.is_(None), t.c.lease_until.is_(None), t.c.lease_until < now)
        if engine.dialect.name == "sqlite":  # SQLite keeps text in any column: such a lease holds nothing
            free = or_(free, func.typeof(t.c.lease_until).not_in(("integer", "real")))
        with engine.begin() as conn:
            result = conn.execute(update(t).where(t.c[self.key] == name, free).values(**values))
        return bool(result.rowcount == 1)

    def renew(self, engine: Engine, name: str, owner: str, now: float, lease: float) -> bool:
        """Extend the lease; False when this owner lost it."""
        return self._update(engine, name, owner, {"lease_until": now + lease})

    def release(
        self,
        engine: Engine,
        name: str,
        owner: str,
        now: float,
        status: str | None = None,
        summary: str | None = None,
        error: str | None = None,
    ) -> None:
        """Give the lock back, recording the run's outcome when ``status`` is given."""
        values: dict[str, Any] = {"owner": None, "lease_until": None}
        if status is not None:
            values.update(status=status, finished_at=now, summary=summary, error=error)
        self._update(engine, name, owner, values)

    def sync_rows(self, engine: Engine) -> dict[str, dict[str, Any]]:
        """Every name's lock and last run."""
        with engine.connect() as conn:
            return {row._mapping[self.key]: row._asdict() for row in conn.execute(select(self.table))}

    def _update(self, engine: Engine, name: str, owner: str, values: dict[str, Any]) -> bool:
        t = self.table
        with engine.begin() as conn:
            result = conn.execute(update(t).where(t.c[self.key] == name, t.c.owner == owner).values(**values))
        return bool(result.rowcount == 1)


_AUDIENCES = RunLock(syncs, "audience")
acquire = _AUDIENCES.acquire
renew = _AUDIENCES.renew
release = _AUDIENCES.release
sync_rows = _AUDIENCES.sync_rows

__all__ = ["RunLock", "acquire", "release", "renew", "sync_rows"]
