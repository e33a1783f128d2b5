"""The values that cross the outbox boundary: what ingest stores, what a worker claims and completes.

Every implementation of :class:`relay.storage.outbox.Outbox` (SQL, in memory) takes and returns these,
so the ingest pipeline and the delivery worker never see a row, a column list or a status string.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from relay.engagement import outbound_custom
from relay.types import AttemptOutcome, ConsentVerdict, DeliveryStatus, OutboundEvent


@dataclass
class NewDelivery:
    """One connector's delivery of a new event, with the consent decision made at ingest."""

    connector: str
    status: str  # DeliveryStatus.PENDING | DeliveryStatus.SKIPPED
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


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery:
    """A delivery a worker holds until its lease ends, with its event as the connector will see it."""

    delivery_id: int
    connector: str
    attempts: int  # counting this one
    created_at: float
    event: OutboundEvent
    #: why the stored event cannot be turned into an :class:`OutboundEvent` (``event`` then holds what
    #: could be read); such a delivery fails alone, it is never sent
    unreadable: str | None = None


@dataclass(frozen=True, kw_only=True)
class Completion:
    """What happened to one claimed delivery; built by keyword only."""

    delivery_id: int
    status: DeliveryStatus  # PENDING (retry at next_attempt_at) | DELIVERED | DEAD | SKIPPED
    outcome: AttemptOutcome
    next_attempt_at: float = 0.0
    last_error: str | None = None
    status_code: int | None = None
    response: str | None = None
    latency_ms: float | None = None
    #: the request that carried the event (method, URL, body), masked and cut like ``response``
    request: str | None = None
    #: -1 gives back the attempt counted at claim (the delivery was not really tried)
    attempts_delta: int = 0


def to_outbound(delivery_id: int, event: Mapping[str, Any], verdict: ConsentVerdict) -> OutboundEvent:
    """A stored event as the connector sees it; the ``strip`` consent mode removes contact details here.
    Raises (``TypeError``, ``KeyError``, ``ValueError``) for a stored event that cannot be read."""
    row = [event[column] for column in CLAIM_COLUMNS[1:]]
    for index in _JSON_INDEXES:  # a copy: the event the connector gets shares nothing with the stored one
        row[index] = dict(row[index] or {})
    return _outbound(delivery_id, row, verdict)


def _outbound(delivery_id: int, row: Sequence[Any], verdict: ConsentVerdict) -> OutboundEvent:
    """The event of ``row`` (:data:`CLAIM_COLUMNS` without the id; JSON columns as text or decoded)."""
    (
        event_id, event_name, event_time, received_at, action_source, event_source_url, referrer_url,
        opt_out, hashed, ids, ip, user_agent, custom,
    ) = row  # fmt: skip
    return OutboundEvent(
        delivery_id=delivery_id,
        event_id=event_id,
        event_name=event_name,
        event_time=_integer(event_time),
        action_source=action_source,
        event_source_url=event_source_url,
        referrer_url=referrer_url,
        opt_out=bool(opt_out),
        hashed={} if verdict.mode == "strip" else _object(hashed),
        ids=_object(ids),
        ip=ip,
        user_agent=user_agent,
        custom=outbound_custom(event_name, _object(custom)),
        consent=verdict,
        received_at=_number(received_at),
    )


def claimed(
    delivery_id: int,
    connector: str,
    attempts: int,
    created_at: float,
    event: Mapping[str, Any],
    verdict: ConsentVerdict,
) -> ClaimedDelivery:
    """A claimed delivery with its event mapped; a stored event that cannot be read is marked so."""
    try:
        outbound = to_outbound(delivery_id, event, verdict)
        unreadable = None
    except Exception as exc:  # a row written before today's validation, or by hand
        unreadable = f"cannot map event: {type(exc).__name__}: {exc}"
        outbound = OutboundEvent(
            delivery_id=delivery_id,
            event_id=str(event.get("event_id", "")),
            event_name=str(event.get("event_name", "")),
            event_time=_int(event.get("event_time")),
            action_source=str(event.get("action_source", "")),
            consent=verdict,
            received_at=float(_int(event.get("received_at"))),
        )
    return _held(delivery_id, connector, attempts, created_at, outbound, unreadable)


def _held(
    delivery_id: int,
    connector: str,
    attempts: int,
    created_at: float,
    event: OutboundEvent,
    unreadable: str | None = None,
) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=delivery_id,
        connector=connector,
        attempts=attempts,
        created_at=created_at,
        event=event,
        unreadable=unreadable,
    )


#: the ``events`` columns a claim reads, in the order :func:`claimed_row` takes them: not the consent
#: record (the verdict is the delivery's), dedup key, source or purge mark
CLAIM_COLUMNS = (
    "id", "event_id", "event_name", "event_time", "received_at", "action_source", "event_source_url",
    "referrer_url", "opt_out", "hashed", "ids", "ip", "user_agent", "custom",
)  # fmt: skip
_JSON_CLAIM_COLUMNS = ("hashed", "ids", "custom")
_JSON_INDEXES = tuple(CLAIM_COLUMNS[1:].index(column) for column in _JSON_CLAIM_COLUMNS)


def claimed_row(
    delivery_id: int,
    connector: str,
    attempts: int,
    created_at: float,
    row: Sequence[Any],
    verdict: ConsentVerdict,
) -> ClaimedDelivery:
    """:func:`claimed` for an event read as a tuple of :data:`CLAIM_COLUMNS` (its JSON columns as text,
    or decoded by the driver): the worker's hot path, with no dict per event and no copy of what was
    just decoded. A row that cannot be read (JSON that does not decode included) fails alone."""
    try:
        event = _outbound(delivery_id, row[1:], verdict)
    except Exception:  # read the way every other caller reads it, which names what is wrong
        return claimed(delivery_id, connector, attempts, created_at, _row_dict(row), verdict)
    return _held(delivery_id, connector, attempts, created_at, event)


def _object(value: Any) -> dict[str, Any]:
    """A JSON object column: decoded when the driver gave text; anything else as ``dict()`` takes it."""
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return value if type(value) is dict else dict(value or {})


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    event = dict(zip(CLAIM_COLUMNS, row, strict=False))
    for column in _JSON_CLAIM_COLUMNS:
        with contextlib.suppress(ValueError):  # left as text: to_outbound then says it cannot read it
            if isinstance(event.get(column), str | bytes):
                event[column] = orjson.loads(event[column])
    return event


def _stored_number(value: Any) -> int | float:
    """A stored time as the driver gave it; TypeError for anything else (SQLite keeps a text in any
    column: such a row cannot be read)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a stored time is {type(value).__name__}, not a number")
    return value


def _integer(value: Any) -> int:
    return int(_stored_number(value))  # ValueError for NaN, OverflowError for infinity


def _number(value: Any) -> float:
    return float(_stored_number(value))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


__all__ = [
    "CLAIM_COLUMNS",
    "ClaimedDelivery",
    "Completion",
    "NewDelivery",
    "NewEvent",
    "StoreResult",
    "claimed",
    "claimed_row",
    "to_outbound",
]
