"""What the campaign-results page reads: the events of a window (a few projected columns each), the
landing touches before it, deliveries per connector and status, and consent decisions per place.

Every query is bounded by ``events.received_at`` (indexed) and reaches deliveries through their
``event_pk`` index, so its cost follows the window, not the table. JSON columns are projected in SQL
(``JSON_EXTRACT`` on SQLite, ``->>`` on PostgreSQL), so only the few values a report needs leave the
database; attribution, which needs each visitor's touches in order, runs over those rows in Python
(``relay.results``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from relay.storage.db import _guard
from relay.storage.stored_json import readable
from relay.storage.tables import DeliveryRow, EventRow

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]

#: rows fetched per round trip
PAGE = 5000
T = TypeVar("T")


async def run_read(fn: Callable[..., T], *args: Any) -> T:
    """Run a long read in a thread of its own (its own pooled connection), not in the database's
    executor: on SQLite that is the single writer thread ingest waits on, and a WAL read never
    blocks the writer. Database failures become :class:`StorageError`, as in :meth:`Database.run`."""
    return await asyncio.to_thread(_guard, fn, *args)


class Hit(NamedTuple):
    """One stored event, as the results report sees it."""

    at: float
    name: str
    url: str | None
    referrer: str | None
    visitor: str | None
    value: float | None
    currency: str | None


def _visitor() -> ColumnElement[Any]:
    """Who did it: the first-party ``fbp`` id, else the hashed external id, else the hashed email
    (the same person across a server and a browser event), else IP and user agent together."""
    e = events
    return func.coalesce(
        readable(e.c.ids)["fbp"].as_string(),
        readable(e.c.hashed)["external_id"].as_string(),
        readable(e.c.hashed)["em"].as_string(),
        e.c.ip + "|" + e.c.user_agent,
    ).label("visitor")


def _columns() -> list[Any]:
    e = events
    return [
        e.c.received_at,
        e.c.event_name,
        e.c.event_source_url,
        e.c.referrer_url,
        _visitor(),
        readable(e.c.custom)["value"].as_float().label("value"),
        readable(e.c.custom)["currency"].as_string().label("currency"),
    ]


def _hits(engine: Engine, where: ColumnElement[bool]) -> Iterator[Hit]:
    # in the order of the received_at index (no sort); events received in the same instant may come
    # in any order, which attribution does not mind
    stmt = select(*_columns()).where(where).order_by(events.c.received_at)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=PAGE).execute(stmt)
        for rows in result.partitions():
            yield from map(Hit._make, rows)


def window_hits(engine: Engine, since: float, until: float) -> Iterator[Hit]:
    """Every event received in ``[since, until)``, oldest first, streamed (a blocking generator: it
    holds a connection until it is exhausted)."""
    e = events
    return _hits(engine, and_(e.c.received_at >= since, e.c.received_at < until))


def touch_hits(engine: Engine, since: float, until: float, markers: Sequence[str]) -> list[Hit]:
    """The events of ``[since, until)`` whose URL contains one of ``markers`` (campaign parameters, click
    ids): the attribution lookback before a window (referrals count inside the window only)."""
    e = events
    url = e.c.event_source_url
    marked = or_(*(url.contains(m, autoescape=True) for m in markers))
    return list(_hits(engine, and_(e.c.received_at >= since, e.c.received_at < until, marked)))


def delivery_breakdown(
    engine: Engine, since: float, until: float
) -> list[tuple[str, str, str, str, str, int]]:
    """``(connector, status, decision, country, region, count)`` over the window's events: what
    became of each connector's deliveries, and what it was allowed to send by where the visitor was
    (one pass over the join serves both tables of the page)."""
    e, d = events, deliveries
    country = func.coalesce(readable(e.c.consent)["country"].as_string(), "").label("country")
    region = func.coalesce(readable(e.c.consent)["region"].as_string(), "").label("region")
    stmt = (
        select(d.c.connector, d.c.status, d.c.consent_decision, country, region, func.count())
        .select_from(e.join(d, d.c.event_pk == e.c.id))
        .where(e.c.received_at >= since, e.c.received_at < until)
        .group_by(d.c.connector, d.c.status, d.c.consent_decision, country, region)
    )
    with engine.connect() as conn:
        return [
            (str(c), str(s), str(dec), str(k or ""), str(r or ""), int(n))
            for c, s, dec, k, r, n in conn.execute(stmt)
        ]


__all__ = [
    "PAGE",
    "Hit",
    "delivery_breakdown",
    "run_read",
    "touch_hits",
    "window_hits",
]
