"""The catalog sync's SQL: the run lock, the acknowledged items, lookalike records.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
Statements are portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, delete, select

from relay.storage.audiences.lock import RunLock
from relay.storage.audiences.sql import chunks, insert_ignore
from relay.storage.catalog.tables import catalog_items, catalog_syncs, lookalikes

#: (item_id, fingerprint, error or None)
Ack = tuple[str, str, str | None]


#: the catalogs' run lock: ``acquire`` marks a run as started, ``release`` records its outcome
_CATALOGS = RunLock(catalog_syncs, "catalog")
acquire = _CATALOGS.acquire
renew = _CATALOGS.renew
release = _CATALOGS.release
sync_rows = _CATALOGS.sync_rows


def known(engine: Engine, catalog: str, destination: str) -> dict[str, str]:
    """The items acknowledged (taken or refused) for (catalog, destination): id → fingerprint."""
    t = catalog_items
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.item_id, t.c.fingerprint).where(t.c.catalog == catalog, t.c.destination == destination)
        )
        return {r.item_id: r.fingerprint for r in rows}


def acknowledge(
    engine: Engine, catalog: str, destination: str, upserts: Sequence[Ack], deleted: Sequence[str], now: float
) -> None:
    """Record one finished batch in one transaction: items written (refused ones with their error)
    and items deleted."""
    t = catalog_items
    where = (t.c.catalog == catalog, t.c.destination == destination)
    with engine.begin() as conn:
        ids = [u[0] for u in upserts] + list(deleted)
        for chunk in chunks(ids):
            conn.execute(delete(t).where(*where, t.c.item_id.in_(chunk)))
        rows = [
            {
                "catalog": catalog,
                "destination": destination,
                "item_id": item_id,
                "fingerprint": fingerprint,
                "refused": error is not None,
                "error": error,
                "updated_at": now,
            }
            for item_id, fingerprint, error in upserts
        ]
        insert_ignore(conn, t, rows)


def item_counts(engine: Engine) -> dict[tuple[str, str], dict[str, int]]:
    """Per (catalog, destination): items on the platform and items it refused."""
    t = catalog_items
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.catalog, t.c.destination, t.c.refused))
        out: dict[tuple[str, str], dict[str, int]] = {}
        for row in rows:
            counts = out.setdefault((row.catalog, row.destination), {"items": 0, "refused": 0})
            counts["refused" if row.refused else "items"] += 1
    return out


def item_ids(engine: Engine, destinations: Iterable[str]) -> dict[str, set[str]]:
    """Per destination, the ids of the items its platform accepted (every catalog synced to it)."""
    t = catalog_items
    wanted = list(destinations)
    out: dict[str, set[str]] = {d: set() for d in wanted}
    if not wanted:
        return out
    with engine.connect() as conn:
        query = select(t.c.destination, t.c.item_id).where(
            t.c.destination.in_(wanted), t.c.refused.is_(False)
        )
        for row in conn.execute(query):
            out[row.destination].add(row.item_id)
    return out


# -- lookalike audiences ------------------------------------------------------------------------


def lookalike_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [row._asdict() for row in conn.execute(select(lookalikes))]


def save_lookalike(engine: Engine, row: dict[str, Any]) -> None:
    """Insert or replace the record of one (audience, destination, spec)."""
    t = lookalikes
    with engine.begin() as conn:
        conn.execute(
            delete(t).where(
                t.c.audience == row["audience"],
                t.c.destination == row["destination"],
                t.c.spec == row["spec"],
            )
        )
        insert_ignore(conn, t, [row])


__all__ = [
    "Ack",
    "acknowledge",
    "acquire",
    "item_counts",
    "item_ids",
    "known",
    "lookalike_rows",
    "release",
    "renew",
    "save_lookalike",
    "sync_rows",
]
