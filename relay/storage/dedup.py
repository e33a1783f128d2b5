"""Deduplication: one stored event per ``(event_name, event_id)`` for 48 hours, and which copy's
fields win when several copies arrive.

The trust rule: an authenticated server event (``source`` ``events``, from ``POST /v1/events``)
always wins over a browser copy (``gif`` or ``collect``, which anybody can send). Its fields replace
the browser copy's, and its own consent decisions apply to every connector; a browser copy may only
add the identifiers a browser sees (cookies and click ids, IP, user agent) that the server event
lacks, never value, currency, contents, custom data, contact details or URLs. Copies of the same
trust keep the first copy's values and fill in what it lacked while its deliveries are pending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from relay.storage import bulk
from relay.storage.lease import deliveries, delivery_values, events
from relay.storage.records import NewDelivery, NewEvent
from relay.storage.stored_json import as_object, readable
from relay.types import BROWSER_ID_KEYS, DeliveryStatus

DEDUP_WINDOW_SECONDS = 48 * 3600
SERVER_SOURCE = "events"
#: the ``ids`` keys a browser copy may add to a server event: what only the browser sees
BROWSER_IDS = frozenset(BROWSER_ID_KEYS)
BROWSER_COLUMNS = ("ip", "user_agent")
#: columns a later copy of the same trust may fill in while the event's deliveries are pending
SAME_TRUST_COLUMNS = ("event_source_url", "referrer_url", "ip", "user_agent")


@dataclass
class Stored:
    """An event stored under a dedup key: its row and the source of the copy whose fields it holds."""

    pk: int
    source: str


def find(conn: Connection, keys: set[str], now: float) -> dict[str, Stored]:
    """The events stored under ``keys`` within the window; older holders of a key give it up."""
    columns = ("id", "dedup_key", "received_at", "source")
    found: dict[str, Stored] = {}
    stale: list[int] = []
    for pk, key, received_at, source in bulk.select_in(conn, "events", columns, "dedup_key", keys):
        if received_at >= now - DEDUP_WINDOW_SECONDS:
            found[key] = Stored(pk, source)
        else:
            stale.append(pk)
    if stale:
        # outside the 48 h window the same key is a new event: release the key
        conn.execute(update(events).where(events.c.id.in_(stale)).values(dedup_key=None))
    return found


def merge_copy(conn: Connection, stored: Stored, copy: NewEvent, now: float) -> list[NewDelivery]:
    """Apply a later copy of a stored event by the trust rule; returns the deliveries to add."""
    if copy.source == SERVER_SOURCE and stored.source != SERVER_SOURCE:
        stored.source = SERVER_SOURCE
        return _server_wins(conn, stored.pk, copy, now)
    if stored.source == SERVER_SOURCE and copy.source != SERVER_SOURCE:
        _enrich(conn, stored.pk, copy, same_trust=False)
    else:
        _enrich(conn, stored.pk, copy, same_trust=True)
    return []


def sendable(ev: NewEvent) -> bool:
    """True when some connector will send ``ev`` (as the ingest pipeline decides whether to keep
    identifiers at all)."""
    return any(d.status == DeliveryStatus.PENDING for d in ev.deliveries) or not ev.deliveries


def _server_wins(conn: Connection, pk: int, copy: NewEvent, now: float) -> list[NewDelivery]:
    """The server copy's fields replace a browser copy's, keeping only the browser identifiers it
    lacks; its consent decisions replace pending browser deliveries, and where a browser delivery
    has left ``pending`` (claimed, sent, dead or skipped) a new one is added, so the server's
    version is always what gets sent last."""
    row = conn.execute(
        select(
            readable(events.c.ids).label("ids"), events.c.ip, events.c.user_agent, events.c.pii_purged
        ).where(events.c.id == pk)
    ).one()  # ids through ``readable``: a stored value that is not JSON is replaced by the server's copy
    ids, ip, user_agent = dict(copy.ids), copy.ip, copy.user_agent
    if sendable(copy) and not row.pii_purged:
        ids = {**{k: v for k, v in as_object(row.ids).items() if k in BROWSER_IDS}, **ids}
        ip = ip if ip is not None else row.ip
        user_agent = user_agent if user_agent is not None else row.user_agent
    conn.execute(
        update(events)
        .where(events.c.id == pk)
        .values(
            event_time=copy.event_time,
            action_source=copy.action_source,
            source=SERVER_SOURCE,
            event_source_url=copy.event_source_url,
            referrer_url=copy.referrer_url,
            opt_out=copy.opt_out,
            hashed=copy.hashed,
            ids=ids,
            ip=ip,
            user_agent=user_agent,
            custom=copy.custom,
            consent=copy.consent,
            pii_purged=False,
        )
    )
    return [d for d in copy.deliveries if not _replace_pending(conn, pk, d, now)]


def _replace_pending(conn: Connection, pk: int, d: NewDelivery, now: float) -> bool:
    """Turn the connector's pending delivery into the server copy's; False when none is pending.
    A delivery a worker has just claimed is ``in_flight`` and left alone (on PostgreSQL this
    statement waits for the claim's lock, then sees the new status)."""
    fresh = dataclasses.asdict(delivery_values(pk, d, now))
    del fresh["event_pk"]
    d_ = deliveries.c
    result = conn.execute(
        update(deliveries)
        .where(d_.event_pk == pk, d_.connector == d.connector, d_.status == DeliveryStatus.PENDING.value)
        .values(**fresh, lease_until=None, worker_id=None)
    )
    return bool(result.rowcount)


def _enrich(conn: Connection, pk: int, copy: NewEvent, *, same_trust: bool) -> None:
    """Fill in what the stored event lacks while its deliveries are pending: anything the first
    copy lacked from a copy of the same trust, only browser identifiers from a browser copy."""
    pending = conn.execute(
        select(deliveries.c.id)
        .where(deliveries.c.event_pk == pk, deliveries.c.status == DeliveryStatus.PENDING.value)
        .limit(1)
    ).first()
    if pending is None:
        return
    row = conn.execute(select(events).where(events.c.id == pk)).one()
    if row.pii_purged:
        return
    values: dict[str, Any] = {}
    stored_ids = dict(row.ids or {})
    if same_trust:
        for key in ("hashed", "ids", "custom"):
            stored = dict(getattr(row, key) or {})
            merged = {**getattr(copy, key), **stored}
            if merged != stored:
                values[key] = merged
    else:
        extra = {k: v for k, v in copy.ids.items() if k in BROWSER_IDS and k not in stored_ids}
        if extra:
            values["ids"] = {**stored_ids, **extra}
    for column in SAME_TRUST_COLUMNS if same_trust else BROWSER_COLUMNS:
        if getattr(row, column) is None and getattr(copy, column) is not None:
            values[column] = getattr(copy, column)
    if values:
        conn.execute(update(events).where(events.c.id == pk).values(**values))
