"""The outbox: events and their fan-out deliveries written in one transaction, claimed in batches
with a lease, completed with the platform's answer. Only the storage package knows SQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from relay.storage import bulk, dedup, faults
from relay.storage.tables import AttemptRow, ConnectorStateRow, DeliveryRow, EventRow

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
attempts_t = AttemptRow.__table__  # type: ignore[attr-defined]
states = ConnectorStateRow.__table__  # type: ignore[attr-defined]
log = logging.getLogger("relay.storage")

#: a concurrent writer (another relay process) storing the same dedup key: tries before giving up
DEDUP_RACE_ATTEMPTS = 3
UNENCODABLE = (
    "could not be stored: its data cannot be encoded as JSON"
    " (nested too deeply, an integer beyond 64 bits, or a key that is not a string)"
)
REFUSED = "could not be stored: the database refused one of its values"
FAILED = "could not be stored"


@dataclass
class NewDelivery:
    connector: str
    status: str  # pending | skipped
    decision: str
    reason: str
    mode: str | None = None
    ldu: tuple[int, int] | None = None
    last_error: str | None = None


@dataclass
class NewEvent:
    """An event ready to store: validated, contact details hashed, consent decided per connector."""

    event_id: str
    event_name: str
    event_time: int
    received_at: float
    action_source: str
    source: str
    event_source_url: str | None = None
    referrer_url: str | None = None
    opt_out: bool = False
    hashed: dict[str, list[str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, Any] = field(default_factory=dict)
    deliveries: list[NewDelivery] = field(default_factory=list)

    @property
    def dedup_key(self) -> str:
        return f"{self.event_name}\x1f{self.event_id}"


@dataclass(frozen=True)
class StoreResult:
    """What became of one event of a batch."""

    event_pk: int
    duplicate: bool
    #: why the event was refused: its own data cannot be stored (nothing of it was written)
    rejected: str | None = None


@dataclass(frozen=True)
class _Ready:
    """An event of the batch with its row values, JSON already encoded."""

    index: int
    event: NewEvent
    values: tuple[Any, ...]


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
            ready.append(_Ready(index, ev, _event_values(ev)))
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
            _delivery_values(stored[item.event.dedup_key].pk, d, now)
            for item in later
            for d in dedup.merge_copy(conn, stored[item.event.dedup_key], item.event, now)
        ]
        bulk.insert_many(conn, "deliveries", DELIVERY_COLUMNS, added)
    return [
        StoreResult(stored[item.event.dedup_key].pk, duplicate=fresh.get(item.event.dedup_key) is not item)
        for item in part
    ]


EVENT_COLUMNS = (
    "event_id", "event_name", "dedup_key", "event_time", "received_at", "action_source", "source",
    "event_source_url", "referrer_url", "opt_out", "hashed", "ids", "ip", "user_agent", "custom", "consent",
    "pii_purged",
)  # fmt: skip
DELIVERY_COLUMNS = (
    "event_pk", "connector", "status", "attempts", "next_attempt_at", "consent_decision", "consent_reason",
    "consent_mode", "ldu_country", "ldu_state", "last_error", "created_at", "updated_at",
)  # fmt: skip


def _insert_events(conn: Connection, fresh: Sequence[_Ready], now: float) -> list[int]:
    if not fresh:
        return []
    # one executemany, then one lookup by the (unique) dedup keys: much cheaper than RETURNING row by row
    bulk.insert_many(conn, "events", EVENT_COLUMNS, [item.values for item in fresh])
    keys = [item.event.dedup_key for item in fresh]
    found = {key: pk for key, pk in bulk.select_in(conn, "events", ("dedup_key", "id"), "dedup_key", keys)}
    ids = [found[key] for key in keys]
    pairs = zip(fresh, ids, strict=True)
    rows = [_delivery_values(pk, d, now) for item, pk in pairs for d in item.event.deliveries]
    bulk.insert_many(conn, "deliveries", DELIVERY_COLUMNS, rows)
    return ids


def _event_values(ev: NewEvent) -> tuple[Any, ...]:
    return (
        ev.event_id, ev.event_name, ev.dedup_key, ev.event_time, ev.received_at, ev.action_source, ev.source,
        ev.event_source_url, ev.referrer_url, ev.opt_out, _json(ev.hashed), _json(ev.ids), ev.ip,
        ev.user_agent, _json(ev.custom), _json(ev.consent), False,
    )  # fmt: skip


def _delivery_values(event_pk: int, d: NewDelivery, now: float) -> tuple[Any, ...]:
    ldu_country, ldu_state = d.ldu if d.ldu else (None, None)
    return (
        event_pk, d.connector, d.status, 0, now, d.decision, d.reason, d.mode, ldu_country, ldu_state,
        d.last_error, now, now,
    )  # fmt: skip


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed by a worker, with its event."""

    delivery_id: int
    connector: str
    attempts: int
    created_at: float
    decision: str
    reason: str
    mode: str | None
    ldu: tuple[int, int] | None
    event: dict[str, Any]


def claim(
    engine: Engine, connector: str, limit: int, now: float, lease_seconds: float, worker_id: str
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries (pending and due, or in flight with an expired lease)."""
    d = deliveries
    due = (
        select(d.c.id)
        .where(
            d.c.connector == connector,
            or_(
                and_(d.c.status == "pending", d.c.next_attempt_at <= now),
                and_(d.c.status == "in_flight", d.c.lease_until < now),
            ),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    # a CTE, evaluated once: with "id IN (subquery)" PostgreSQL may re-run the locking subquery and
    # two workers can then claim the same rows
    stmt = (
        update(d)
        .where(d.c.id == due.c.id)
        .values(
            status="in_flight",
            lease_until=now + lease_seconds,
            worker_id=worker_id,
            attempts=d.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            d.c.id,
            d.c.event_pk,
            d.c.attempts,
            d.c.created_at,
            d.c.consent_decision,
            d.c.consent_reason,
            d.c.consent_mode,
            d.c.ldu_country,
            d.c.ldu_state,
        )
    )
    with engine.begin() as conn:
        claimed = conn.execute(stmt).all()
        if not claimed:
            return []
        pks = {row.event_pk for row in claimed}
        rows = {row.id: row._asdict() for row in conn.execute(select(events).where(events.c.id.in_(pks)))}
    out = [
        Claimed(
            delivery_id=row.id,
            connector=connector,
            attempts=row.attempts,
            created_at=row.created_at,
            decision=row.consent_decision,
            reason=row.consent_reason,
            mode=row.consent_mode,
            ldu=(row.ldu_country, row.ldu_state) if row.ldu_country is not None else None,
            event=rows[row.event_pk],
        )
        for row in claimed
    ]
    out.sort(key=lambda c: c.delivery_id)
    return out


@dataclass(frozen=True)
class Completion:
    """What happened to one claimed delivery."""

    delivery_id: int
    status: str  # pending | delivered | dead | skipped
    outcome: str  # delivered | retryable | permanent | skipped | paused
    next_attempt_at: float = 0.0
    last_error: str | None = None
    status_code: int | None = None
    response: str | None = None
    latency_ms: float | None = None
    #: -1 gives back the attempt counted at claim (the delivery was not really tried)
    attempts_delta: int = 0


def complete(engine: Engine, connector: str, worker_id: str, done: Sequence[Completion], now: float) -> int:
    """Record outcomes for deliveries this worker still holds; returns how many rows it updated."""
    if not done:
        return 0
    d = deliveries
    stmt = (
        update(d)
        .where(d.c.id == bindparam("b_id"), d.c.worker_id == worker_id, d.c.status == "in_flight")
        .values(
            status=bindparam("b_status"),
            next_attempt_at=bindparam("b_next"),
            last_error=bindparam("b_error"),
            attempts=d.c.attempts + bindparam("b_delta"),
            lease_until=None,
            updated_at=now,
            delivered_at=bindparam("b_delivered"),
        )
    )
    params = [
        {
            "b_id": c.delivery_id,
            "b_status": c.status,
            "b_next": c.next_attempt_at,
            "b_error": c.last_error,
            "b_delta": c.attempts_delta,
            "b_delivered": now if c.status == "delivered" else None,
        }
        for c in done
    ]
    tried = list(done)
    with engine.begin() as conn:
        updated = conn.execute(stmt, params).rowcount
        if tried:
            conn.execute(
                insert(attempts_t),
                [
                    {
                        "delivery_id": c.delivery_id,
                        "at": now,
                        "outcome": c.outcome,
                        "status_code": c.status_code,
                        "response": c.response if c.response is not None else c.last_error,
                        "latency_ms": c.latency_ms,
                    }
                    for c in tried
                ],
            )
        _note_connector(conn, connector, done, now)
    return int(updated or 0)


def _note_connector(conn: Connection, connector: str, done: Sequence[Completion], now: float) -> None:
    values: dict[str, Any] = {}
    if any(c.outcome == "delivered" for c in done):
        values["last_success_at"] = now
    errors = [c.last_error for c in done if c.outcome in ("retryable", "permanent") and c.last_error]
    if errors:
        values.update(last_error=errors[-1], last_error_at=now)
    if values:
        ensure_state(conn, connector)
        conn.execute(update(states).where(states.c.name == connector).values(**values))


def ensure_state(conn: Connection, connector: str) -> None:
    """Create the connector's state row if missing; safe when several workers race to do it."""
    if conn.execute(select(states.c.name).where(states.c.name == connector)).first() is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(states).values(name=connector, state="active").on_conflict_do_nothing())
