"""The audience run lock and the record of the last run: one row per audience holding a leased owner.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, or_, select, update

from relay.storage.audiences.sql import insert_ignore, syncs


def acquire(engine: Engine, audience: str, owner: str, now: float, lease: float, *, record: bool) -> bool:
    """Take the audience's lock unless a live lease holds it; ``record`` marks a run as started."""
    with engine.begin() as conn:
        insert_ignore(conn, syncs, [{"audience": audience, "status": "never"}])
    values: dict[str, Any] = {"owner": owner, "lease_until": now + lease}
    if record:
        values.update(status="running", started_at=now)
    free = or_(syncs.c.owner.is_(None), syncs.c.lease_until < now)
    with engine.begin() as conn:
        result = conn.execute(update(syncs).where(syncs.c.audience == audience, free).values(**values))
    return bool(result.rowcount == 1)


def renew(engine: Engine, audience: str, owner: str, now: float, lease: float) -> bool:
    """Extend the lease; False when this owner lost it."""
    with engine.begin() as conn:
        result = conn.execute(
            update(syncs)
            .where(syncs.c.audience == audience, syncs.c.owner == owner)
            .values(lease_until=now + lease)
        )
    return bool(result.rowcount == 1)


def release(
    engine: Engine,
    audience: str,
    owner: str,
    now: float,
    *,
    status: str | None = None,
    summary: str | None = None,
    error: str | None = None,
) -> None:
    """Give the lock back, recording the run's outcome when ``status`` is given."""
    values: dict[str, Any] = {"owner": None, "lease_until": None}
    if status is not None:
        values.update(status=status, finished_at=now, summary=summary, error=error)
    with engine.begin() as conn:
        conn.execute(
            update(syncs).where(syncs.c.audience == audience, syncs.c.owner == owner).values(**values)
        )


def sync_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every audience's lock and last run."""
    with engine.connect() as conn:
        return {row.audience: row._asdict() for row in conn.execute(select(syncs))}


__all__ = ["acquire", "release", "renew", "sync_rows"]
