"""Claims and leases on SQL: a worker claims due deliveries for a while (its lease), renews the lease
while it is still sending, and completes them with the platform's answer.

A claim sets ``lease_until``; rows ``in_flight`` past it are claimable again (their worker died).
A working worker extends the lease of the rows it holds, and only those, and only the holder may
complete a row: one another worker took over (its lease had lapsed) or one already completed is left
alone. Every statement is built once, at import, with bound parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.storage import bulk
from relay.storage.bulk import RowInsert
from relay.storage.records import CLAIM_COLUMNS, ClaimedDelivery, Completion, NewDelivery, claimed_row
from relay.storage.tables import AttemptRow, ConnectorStateRow, DeliveryRow, EventRow
from relay.types import AttemptOutcome, ConsentVerdict, DeliveryStatus

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
attempts_t = AttemptRow.__table__  # type: ignore[attr-defined]
states = ConnectorStateRow.__table__  # type: ignore[attr-defined]
d = deliveries.c

PENDING, IN_FLIGHT = DeliveryStatus.PENDING.value, DeliveryStatus.IN_FLIGHT.value


_CLAIMED = (
    d.id, d.event_pk, d.attempts, d.created_at, d.consent_decision, d.consent_reason, d.consent_mode,
    d.ldu_country, d.ldu_state,
)  # fmt: skip


def _claim(due: Any) -> Any:
    # a CTE, evaluated once: with "id IN (subquery)" PostgreSQL may re-run the locking subquery and
    # two workers can then claim the same rows
    cte = (
        select(d.id)
        .where(d.connector == bindparam("b_connector"), due)
        .order_by(d.next_attempt_at, d.id)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    return (
        update(deliveries)
        .where(d.id == cte.c.id)
        .values(
            status=IN_FLIGHT,
            lease_until=bindparam("b_lease_until"),
            worker_id=bindparam("b_worker_id"),
            attempts=d.attempts + 1,
            updated_at=bindparam("b_now"),
        )
        .returning(*_CLAIMED)
    )


# Two statements rather than one with an OR: each walks the index ix_deliveries_due (connector, status,
# next_attempt_at) in order and stops at the limit, where the OR had to sort every due row first (a
# claim then cost in proportion to the backlog). Lapsed leases go first: they are the oldest work.
_CLAIM_LAPSED = _claim((d.status == IN_FLIGHT) & (d.lease_until < bindparam("b_now")))
_CLAIM_DUE = _claim((d.status == PENDING) & (d.next_attempt_at <= bindparam("b_now")))
_RENEW = (
    update(deliveries)
    .where(
        d.id.in_(bindparam("b_ids", expanding=True)),
        d.worker_id == bindparam("b_worker_id"),
        d.status == IN_FLIGHT,
    )
    .values(lease_until=bindparam("b_lease_until"))
)
#: plain SQL in the driver's ``executemany``: SQLAlchemy's per-row parameter handling cost more than the
#: statement itself at hundreds of completions a batch
_COMPLETE = (
    "UPDATE deliveries SET status = ?, next_attempt_at = ?, last_error = ?, attempts = attempts + ?,"
    " lease_until = NULL, updated_at = ?, delivered_at = ? WHERE id = ? AND worker_id = ? AND status = ?"
)
#: what a claimed event is read with (:data:`relay.storage.records.CLAIM_COLUMNS`, in that order)
_EVENTS = f"SELECT {', '.join(CLAIM_COLUMNS)} FROM events WHERE id IN "


@dataclass(frozen=True, slots=True)
class AttemptValues:
    """One row of ``delivery_attempts``."""

    delivery_id: int
    at: float
    outcome: str
    status_code: int | None
    response: str | None
    latency_ms: float | None
    request: str | None


@dataclass(frozen=True, slots=True)
class DeliveryValues:
    """One new row of ``deliveries``."""

    event_pk: int
    connector: str
    status: str
    attempts: int
    next_attempt_at: float
    consent_decision: str
    consent_reason: str
    consent_mode: str | None
    ldu_country: int | None
    ldu_state: int | None
    last_error: str | None
    created_at: float
    updated_at: float


_STATUSES = frozenset(s.value for s in DeliveryStatus)


def delivery_row(event_pk: int, d: NewDelivery, now: float) -> tuple[Any, ...]:
    """The fresh row of ``d`` in :class:`DeliveryValues` field order: due now, no attempt yet (stored
    new, or replacing a pending one); a tuple, as the group commit inserts it."""
    if d.status not in _STATUSES:
        raise ValueError(f"unknown delivery status {d.status!r}")
    ldu_country, ldu_state = d.ldu if d.ldu else (None, None)
    return (
        event_pk,
        d.connector,
        d.status,
        0,
        now,
        d.decision,
        d.reason,
        d.mode,
        ldu_country,
        ldu_state,
        d.last_error,
        now,
        now,
    )


def delivery_values(event_pk: int, d: NewDelivery, now: float) -> DeliveryValues:
    """:func:`delivery_row` as a :class:`DeliveryValues`."""
    return DeliveryValues(*delivery_row(event_pk, d, now))


_INSERT_ATTEMPTS = RowInsert(attempts_t, AttemptValues)
_STATUS = {s: s.value for s in DeliveryStatus}
_OUTCOME = {o: o.value for o in AttemptOutcome}


def attempt_row(c: Completion, now: float) -> tuple[Any, ...]:
    """The ``delivery_attempts`` row of ``c`` in :class:`AttemptValues` field order; a tuple, as
    :func:`complete` inserts it (a test holds the order against the row type)."""
    response = c.response if c.response is not None else c.last_error
    return (c.delivery_id, now, _OUTCOME[c.outcome], c.status_code, response, c.latency_ms, c.request)


def claim(
    engine: Engine, connector: str, limit: int, now: float, lease_seconds: float, worker_id: str
) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` due deliveries (in flight with an expired lease, then pending and due),
    in order of ``delivery_id``, each with its event ready for the connector."""
    params = {
        "b_connector": connector,
        "b_now": now,
        "b_lease_until": now + lease_seconds,
        "b_worker_id": worker_id,
    }
    with engine.begin() as conn:
        rows = list(conn.execute(_CLAIM_LAPSED, {**params, "b_limit": limit}))
        if len(rows) < limit:
            rows += conn.execute(_CLAIM_DUE, {**params, "b_limit": limit - len(rows)})
        if not rows:
            return []
        found = _events(conn, {r[1] for r in rows})
    verdicts: dict[tuple[Any, ...], ConsentVerdict] = {}  # a batch holds a handful of distinct verdicts
    out = []
    for delivery_id, event_pk, attempts, created_at, *consent in sorted(rows, key=lambda r: r[0]):
        verdict = verdicts.get(key := tuple(consent))
        if verdict is None:
            verdict = verdicts[key] = _verdict(*consent)
        out.append(claimed_row(delivery_id, connector, attempts, created_at, found[event_pk], verdict))
    return out


def _events(conn: Connection, pks: Collection[int]) -> dict[int, tuple[Any, ...]]:
    """The events by id, as rows of :data:`CLAIM_COLUMNS` (JSON still encoded on SQLite: decoding is
    the mapping's, where an event that cannot be read fails alone). Read through the driver's cursor:
    no row object per event."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(bulk.sql(conn, _EVENTS + bulk.marks(len(pks))), tuple(pks))
        return {row[0]: row for row in cursor.fetchall()}
    finally:
        cursor.close()


def _verdict(decision: Any, reason: str, mode: Any, ldu_country: Any, ldu_state: Any) -> ConsentVerdict:
    ldu = (ldu_country, ldu_state) if ldu_country is not None else None
    return ConsentVerdict(decision, reason, mode, ldu)


def renew(engine: Engine, worker_id: str, delivery_ids: Collection[int], lease_until: float) -> int:
    """Extend to ``lease_until`` the lease of the given deliveries this worker still holds in flight;
    returns how many rows it extended."""
    if not delivery_ids:
        return 0
    params = {"b_ids": list(delivery_ids), "b_worker_id": worker_id, "b_lease_until": lease_until}
    with engine.begin() as conn:
        return int(conn.execute(_RENEW, params).rowcount or 0)


def complete(engine: Engine, connector: str, worker_id: str, done: Sequence[Completion], now: float) -> int:
    """Record outcomes for deliveries this worker still holds; returns how many rows it updated."""
    if not done:
        return 0
    delivered = DeliveryStatus.DELIVERED
    status = _STATUS  # the enum's strings by dict: an enum's ``.value`` is a property call
    params = [
        (
            status[c.status], c.next_attempt_at, c.last_error, c.attempts_delta, now,
            now if c.status is delivered else None, c.delivery_id, worker_id, IN_FLIGHT,
        )
        for c in done
    ]  # fmt: skip
    tried = [attempt_row(c, now) for c in done]
    with engine.begin() as conn:
        updated = conn.exec_driver_sql(bulk.sql(conn, _COMPLETE), params).rowcount
        _INSERT_ATTEMPTS.run_values(conn, tried)
        _note_connector(conn, connector, done, now)
    return int(updated or 0)


def _note_connector(conn: Connection, connector: str, done: Sequence[Completion], now: float) -> None:
    values: dict[str, Any] = {}
    if any(c.outcome is AttemptOutcome.DELIVERED for c in done):
        values["last_success_at"] = now
    failed = (AttemptOutcome.RETRYABLE, AttemptOutcome.PERMANENT)
    errors = [c.last_error for c in done if c.outcome in failed and c.last_error]
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


__all__ = [
    "AttemptValues",
    "DeliveryValues",
    "attempt_row",
    "attempts_t",
    "claim",
    "complete",
    "deliveries",
    "delivery_row",
    "delivery_values",
    "ensure_state",
    "events",
    "renew",
    "states",
]
