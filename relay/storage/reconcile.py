"""What order reconciliation reads and writes: the conversions that match a batch of order ids (with
their deliveries), and the stored runs.

Matching by ``event_id`` looks ids up through the ``events.event_id`` index, a chunk at a time;
matching by a ``custom`` key reads the conversions received in the orders' time range (the
``received_at`` index) whose key is one of the ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, select

from relay.storage.audiences.sql import chunks
from relay.storage.lease import deliveries, events
from relay.storage.stored_json import as_object, readable
from relay.storage.tables import ReconcileRunRow

runs = ReconcileRunRow.__table__  # type: ignore[attr-defined]
CHUNK = 500


@dataclass(frozen=True)
class Delivery:
    connector: str
    status: str
    decision: str
    last_error: str | None


@dataclass
class Conversion:
    """A stored conversion event an order matched."""

    pk: int
    event_id: str
    order_key: str
    received_at: float
    value: float | None
    currency: str | None
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass(frozen=True)
class Lookup:
    """How orders find their conversions: ``match`` is ``event_id`` or ``custom.<key>``; a custom key
    is looked for among conversions received in ``[since, until)``."""

    event_name: str
    match: str
    since: float
    until: float


def conversions(engine: Engine, order_ids: Sequence[str], lookup: Lookup) -> dict[str, list[Conversion]]:
    """Per order id, the conversions carrying it (none, one, or duplicates), with their deliveries."""
    e = events
    if lookup.match == "event_id":
        key: Any = e.c.event_id
        bounds: list[Any] = []
    else:
        key = readable(e.c.custom)[lookup.match.removeprefix("custom.")].as_string()
        bounds = [e.c.received_at >= lookup.since, e.c.received_at < lookup.until]
    columns = [
        e.c.id,
        e.c.event_id,
        key,
        e.c.received_at,
        readable(e.c.custom)["value"].as_float(),
        readable(e.c.custom)["currency"].as_string(),
    ]
    found: dict[int, Conversion] = {}
    with engine.connect() as conn:
        for chunk in chunks(list(dict.fromkeys(order_ids)), CHUNK):
            stmt = select(*columns).where(e.c.event_name == lookup.event_name, key.in_(chunk), *bounds)
            for pk, event_id, order_key, at, value, currency in conn.execute(stmt):
                found[pk] = Conversion(pk, event_id, str(order_key), at, _float(value), currency)
        _attach_deliveries(conn, found)
    out: dict[str, list[Conversion]] = {}
    for conversion in sorted(found.values(), key=lambda c: (c.received_at, c.pk)):
        out.setdefault(conversion.order_key, []).append(conversion)
    return out


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _attach_deliveries(conn: Any, found: dict[int, Conversion]) -> None:
    d = deliveries
    for chunk in chunks(list(found), CHUNK):
        stmt = select(d.c.event_pk, d.c.connector, d.c.status, d.c.consent_decision, d.c.last_error).where(
            d.c.event_pk.in_(chunk)
        )
        for pk, connector, status, decision, error in conn.execute(stmt.order_by(d.c.connector)):
            found[pk].deliveries.append(Delivery(connector, status, decision, error))


def save_run(engine: Engine, row: dict[str, Any]) -> int:
    """Store a run (``reconcile_runs`` columns); answers its id."""
    with engine.begin() as conn:
        key = conn.execute(insert(runs).values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def recent_runs(engine: Engine, limit: int = 10, *, items: bool = False) -> list[dict[str, Any]]:
    """The newest runs first; ``items`` adds the orders that did not match."""
    r = runs
    columns: list[Any] = [r.c.id, r.c.started_at, r.c.finished_at, r.c.trigger, r.c.source, r.c.status]
    # a JSON value that is not JSON (SQLite) reads as empty: that run is listed without it
    columns += [r.c.orders, readable(r.c.summary).label("summary"), r.c.error]
    columns += [readable(r.c["items"]).label("items")] if items else []
    stmt = select(*columns).order_by(r.c.started_at.desc(), r.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(stmt)]
    for row in rows:
        row["summary"] = as_object(row["summary"])
        if items:
            row["items"] = row["items"] if isinstance(row["items"], list) else []
    return rows


def last_started(engine: Engine, trigger: str) -> float | None:
    """When the newest run of ``trigger`` (``schedule`` or ``cli``) started."""
    r = runs
    stmt = select(r.c.started_at).where(r.c.trigger == trigger).order_by(r.c.started_at.desc()).limit(1)
    with engine.connect() as conn:
        value = conn.execute(stmt).scalar()
    return None if value is None else float(value)


__all__ = ["Conversion", "Delivery", "Lookup", "conversions", "last_started", "recent_runs", "save_run"]
