"""The history of audience runs: one row per finished run, the last :data:`KEEP_RUNS` kept per audience.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from relay.storage.audiences.sql import runs, state
from relay.storage.stored_json import as_object, readable_columns

#: runs kept per audience; older ones are deleted as each new run is recorded
KEEP_RUNS = 500
#: the most runs one page of the admin API holds
MAX_RUNS_PAGE = 200


def record_run(engine: Engine, row: Mapping[str, Any], keep: int = KEEP_RUNS) -> int:
    """Store a finished run and drop the audience's runs beyond the newest ``keep``; returns its id."""
    r = runs
    with engine.begin() as conn:
        inserted = conn.execute(insert(r).values(**row)).inserted_primary_key
        run_id = int(inserted[0]) if inserted else 0
        oldest_kept = conn.execute(
            select(r.c.id)
            .where(r.c.audience == row["audience"])
            .order_by(r.c.id.desc())
            .offset(keep - 1)
            .limit(1)
        ).scalar()
        if oldest_kept is not None:
            conn.execute(delete(r).where(r.c.audience == row["audience"], r.c.id < oldest_kept))
    return run_id


def runs_page(engine: Engine, audience: str, before: int | None, limit: int) -> dict[str, Any]:
    """The audience's runs newest first, at most ``limit``; ``next_before`` continues the listing (None
    on the last page)."""
    r = runs
    limit = max(1, min(limit, MAX_RUNS_PAGE))
    # destinations read as NULL where it is not JSON (SQLite): that run is listed without them
    stmt = (
        select(*readable_columns(r)).where(r.c.audience == audience).order_by(r.c.id.desc()).limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(r.c.id < before)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    items = [run_item(row._asdict()) for row in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit else None}


def recent_runs(
    engine: Engine, audiences: Iterable[str], per_audience: int
) -> dict[str, list[dict[str, Any]]]:
    """The newest ``per_audience`` runs of each audience, newest first."""
    return {name: runs_page(engine, name, None, per_audience)["items"] for name in audiences}


def run_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored run as the admin API shows it."""
    destinations = as_object(row.get("destinations"))
    return {
        "id": row["id"],
        "audience": row["audience"],
        "trigger": row["trigger"],
        "status": row["status"],
        "error": row["error"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "duration_seconds": round(max(row["finished_at"] - row["started_at"], 0.0), 3),
        "members": row["members"],
        "added": row["added"],
        "removed": row["removed"],
        "failed": row["failed"],
        "connectors": sorted(destinations),
        "destinations": destinations,
    }


def acknowledged_counts(engine: Engine, audience: str) -> dict[str, int]:
    """Members each destination of ``audience`` holds (what its platform acknowledged)."""
    m = state
    stmt = select(m.c.destination, func.count()).where(m.c.audience == audience).group_by(m.c.destination)
    with engine.connect() as conn:
        return {str(dest): int(n) for dest, n in conn.execute(stmt)}


__all__ = [
    "KEEP_RUNS",
    "MAX_RUNS_PAGE",
    "acknowledged_counts",
    "recent_runs",
    "record_run",
    "run_item",
    "runs_page",
]
