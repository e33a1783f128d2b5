"""Lease renewal: a worker still sending a batch keeps its claim, so no other worker takes it over.

A claim (``outbox.claim``) sets ``lease_until``; rows ``in_flight`` past it are claimable again.
A working worker extends the lease of the rows it holds, and only those: a row another worker
took over (its lease had lapsed) or one already completed is left alone.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, update

from relay.storage.outbox import deliveries


def renew(engine: Engine, worker_id: str, delivery_ids: Collection[int], lease_until: float) -> int:
    """Extend to ``lease_until`` the lease of the given deliveries this worker still holds in flight;
    returns how many rows it extended."""
    if not delivery_ids:
        return 0
    d = deliveries
    stmt = (
        update(d)
        .where(d.c.id.in_(list(delivery_ids)), d.c.worker_id == worker_id, d.c.status == "in_flight")
        .values(lease_until=lease_until)
    )
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount or 0)


__all__ = ["renew"]
