"""The outbox: events and their fan-out deliveries written in one transaction, claimed in batches
with a lease, completed with the platform's answer.

:class:`Outbox` is what ingest and the delivery worker use; :class:`SqlOutbox` keeps it in the
relay's database (SQLite or PostgreSQL, the only place that knows SQL: this module, :mod:`.lease`,
:mod:`.dedup`), :class:`relay.storage.memory.MemoryOutbox` in a dict for unit tests. Both pass the
same contract tests (``tests/integration/test_outbox_contract.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from relay.storage import bulk, dedup, faults, lease, queries
from relay.storage.db import Database
from relay.storage.lease import *  # noqa: F403  (re-exported: see __all__)
from relay.storage.lease import (
    DeliveryValues,
    claim,
    complete,
    deliveries,
    delivery_row,
    events,
    renew,
)
from relay.storage.records import ClaimedDelivery, Completion, NewDelivery, NewEvent, StoreResult

log = logging.getLogger("relay.storage")

#: a concurrent writer (another relay process) storing the same dedup key: tries before giving up
DEDUP_RACE_ATTEMPTS = 3
UNENCODABLE = (
    "could not be stored: its data cannot be encoded as JSON"
    " (nested too deeply, an integer beyond 64 bits, or a key that is not a string)"
)
REFUSED = "could not be stored: the database refused one of its values"
FAILED = "could not be stored"


@dataclass(frozen=True)
class _Ready:
    """An event of the batch with its row values, JSON already encoded."""

    index: int
    event: NewEvent
    values: tuple[Any, ...]  # the ``events`` row in :data:`_INSERT_EVENTS` column order


def store_events(engine: Engine, batch: Sequence[NewEvent], now: float) -> list[StoreResult]:
    """Store a batch of events and their deliveries in ONE transaction (group commit).

    An event whose own data cannot be stored (JSON it cannot be encoded to, a value the database
    refuses) is returned ``rejected`` and the others are stored all the same; an unavailable
    database raises (nothing, or only whole parts already committed, was stored)."""
    results: list[StoreResult] = [StoreResult(-1, False, FAILED)] * len(batch)
    ready: list[_Ready] = []
    for index, ev in enumerate(batch):
        try:
            # encoded before the transaction: these refusals need no database round trip
            ready.append(_Ready(index, ev, event_row(ev)))
        except (TypeError, ValueError, RecursionError) as exc:
            results[index] = _refused(ev, exc, UNENCODABLE)
    for item, outcome in faults.isolate(ready, lambda part: _store_once(engine, part, now)):
        if isinstance(outcome, StoreResult):
            results[item.index] = outcome
        else:
            results[item.index] = _refused(item.event, outcome, REFUSED)
    return results


def _refused(ev: NewEvent, exc: Exception, reason: str) -> StoreResult:
    extra = {"event_id": ev.event_id, "error": faults.describe(exc)}
    if faults.data_error(exc):
        log.warning("event refused by storage", extra=extra)
        return StoreResult(-1, False, reason)
    log.error("event could not be stored (a bug?)", exc_info=exc, extra=extra)
    return StoreResult(-1, False, FAILED)


def _store_once(engine: Engine, part: Sequence[_Ready], now: float) -> list[StoreResult]:
    attempt = 1
    while True:
        try:
            return _transaction(engine, part, now)
        except IntegrityError as exc:
            # another process stored the same key meanwhile: a new transaction sees it as a duplicate
            if attempt >= DEDUP_RACE_ATTEMPTS or not faults.dedup_race(exc):
                raise
            attempt += 1


def _transaction(engine: Engine, part: Sequence[_Ready], now: float) -> list[StoreResult]:
    with engine.begin() as conn:
        stored = dedup.find(conn, {item.event.dedup_key for item in part}, now)
        fresh: dict[str, _Ready] = {}
        later: list[_Ready] = []
        for item in part:
            key = item.event.dedup_key
            if key in stored or key in fresh:
                later.append(item)
            else:
                fresh[key] = item
        for item, pk in zip(fresh.values(), _insert_events(conn, list(fresh.values()), now), strict=True):
            stored[item.event.dedup_key] = dedup.Stored(pk, item.event.source)
        # later copies (of this batch or of stored events) in order, each by the trust rule
        added = [
            delivery_row(stored[item.event.dedup_key].pk, d, now)
            for item in later
            for d in dedup.merge_copy(conn, stored[item.event.dedup_key], item.event, now)
        ]
        _INSERT_DELIVERIES.run_values(conn, added)
    return [
        StoreResult(stored[item.event.dedup_key].pk, duplicate=fresh.get(item.event.dedup_key) is not item)
        for item in part
    ]


@dataclass(frozen=True, slots=True)
class EventValues:
    """One new row of ``events``, its JSON columns already encoded."""

    event_id: str
    event_name: str
    dedup_key: str
    event_time: int
    received_at: float
    action_source: str
    source: str
    event_source_url: str | None
    referrer_url: str | None
    opt_out: bool
    hashed: str
    ids: str
    ip: str | None
    user_agent: str | None
    custom: str
    consent: str
    pii_purged: bool = False


_INSERT_EVENTS = bulk.RowInsert(events, EventValues)
_INSERT_DELIVERIES = bulk.RowInsert(deliveries, DeliveryValues)


def _insert_events(conn: Connection, fresh: Sequence[_Ready], now: float) -> list[int]:
    if not fresh:
        return []
    # one executemany, then one lookup by the (unique) dedup keys: much cheaper than RETURNING row by row
    _INSERT_EVENTS.run_values(conn, [item.values for item in fresh])
    keys = [item.event.dedup_key for item in fresh]
    found = {key: pk for key, pk in bulk.select_in(conn, "events", ("dedup_key", "id"), "dedup_key", keys)}
    ids = [found[key] for key in keys]
    pairs = zip(fresh, ids, strict=True)
    rows = [delivery_row(pk, d, now) for item, pk in pairs for d in item.event.deliveries]
    _INSERT_DELIVERIES.run_values(conn, rows)
    return ids


def event_row(ev: NewEvent) -> tuple[Any, ...]:
    """The ``events`` row of ``ev`` as :class:`EventValues` would give it (fields in order), JSON
    encoded, built without the intermediate object: the hot path's per-event cost."""
    return (
        ev.event_id,
        ev.event_name,
        ev.dedup_key,
        ev.event_time,
        ev.received_at,
        ev.action_source,
        ev.source,
        ev.event_source_url,
        ev.referrer_url,
        ev.opt_out,
        _json(ev.hashed),
        _json(ev.ids),
        ev.ip,
        ev.user_agent,
        _json(ev.custom),
        _json(ev.consent),
        False,
    )


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class Outbox(Protocol):
    """The durable outbox as ingest and the delivery worker see it (async; SQL runs in a thread)."""

    async def store(self, events: Sequence[NewEvent], now: float) -> list[StoreResult]:
        """Store events and their deliveries at once (dedup and the trust rule apply); an event whose own
        data cannot be stored comes back ``rejected``; an unavailable store raises ``StorageError``."""
        ...

    async def claim(
        self, connector: str, *, limit: int, now: float, lease_seconds: float, worker_id: str
    ) -> list[ClaimedDelivery]:
        """Up to ``limit`` due deliveries of ``connector``, held by ``worker_id`` for ``lease_seconds``."""
        ...

    async def renew(self, worker_id: str, delivery_ids: Collection[int], lease_until: float) -> int:
        """Extend the lease of the deliveries ``worker_id`` still holds; returns how many."""
        ...

    async def complete(
        self, connector: str, worker_id: str, completions: Sequence[Completion], now: float
    ) -> int:
        """Record outcomes of deliveries ``worker_id`` still holds; returns how many it recorded."""
        ...

    async def paused(self, connector: str) -> bool:
        """True while the connector is paused (its credentials were refused)."""
        ...

    async def pause(self, connector: str, reason: str, config_hash: str) -> None:
        """Pause the connector until it is resumed or its configuration (``config_hash``) changes."""
        ...


class SqlOutbox:
    """The outbox in the relay's database; every call runs in the database's thread pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, events: Sequence[NewEvent], now: float) -> list[StoreResult]:
        return await self.db.run(store_events, self.db.engine, events, now)

    async def claim(
        self, connector: str, *, limit: int, now: float, lease_seconds: float, worker_id: str
    ) -> list[ClaimedDelivery]:
        return await self.db.run(claim, self.db.engine, connector, limit, now, lease_seconds, worker_id)

    async def renew(self, worker_id: str, delivery_ids: Collection[int], lease_until: float) -> int:
        return await self.db.run(renew, self.db.engine, worker_id, delivery_ids, lease_until)

    async def complete(
        self, connector: str, worker_id: str, completions: Sequence[Completion], now: float
    ) -> int:
        return await self.db.run(complete, self.db.engine, connector, worker_id, completions, now)

    async def paused(self, connector: str) -> bool:
        states_ = await self.db.run(queries.connector_states, self.db.engine)
        return bool(states_.get(connector, {}).get("state") == "paused")

    async def pause(self, connector: str, reason: str, config_hash: str) -> None:
        await self.db.run(queries.pause_connector, self.db.engine, connector, reason, config_hash)


__all__ = [
    "FAILED",
    "REFUSED",
    "UNENCODABLE",
    "ClaimedDelivery",
    "Completion",
    "EventValues",
    "NewDelivery",
    "NewEvent",
    "Outbox",
    "SqlOutbox",
    "StoreResult",
    "store_events",
]
# callers reach the SQL of claims and leases through the outbox too
__all__ += lease.__all__
