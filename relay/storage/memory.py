"""The outbox in memory, for unit tests of ingest and the worker: no database, same semantics.

It keeps what :class:`relay.storage.outbox.SqlOutbox` keeps (the dedup window and the trust rule of
:mod:`relay.storage.dedup`, claims, leases and their renewal, completion by the holder only, the
attempt history and the connector states) in dicts, and passes the same contract tests.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from relay.storage import dedup
from relay.storage.outbox import UNENCODABLE
from relay.storage.records import ClaimedDelivery, Completion, NewDelivery, NewEvent, StoreResult, claimed
from relay.types import AttemptOutcome, ConsentVerdict, DeliveryStatus

PENDING, IN_FLIGHT = DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT


@dataclass
class MemoryDelivery:
    """One (event, connector) row, as the ``deliveries`` table holds it."""

    id: int
    event_pk: int
    connector: str
    status: DeliveryStatus
    verdict: ConsentVerdict
    created_at: float
    attempts: int = 0
    next_attempt_at: float = 0.0
    lease_until: float | None = None
    worker_id: str | None = None
    last_error: str | None = None
    updated_at: float = 0.0
    delivered_at: float | None = None


@dataclass
class MemoryAttempt:
    delivery_id: int
    at: float
    outcome: AttemptOutcome
    status_code: int | None
    response: str | None
    latency_ms: float | None
    request: str | None = None


@dataclass
class MemoryOutbox:
    """An :class:`relay.storage.outbox.Outbox` in dicts; inspect ``events``, ``deliveries``, ``attempts``
    and ``states`` in tests."""

    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[int, MemoryDelivery] = field(default_factory=dict)
    attempts: list[MemoryAttempt] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    _keys: dict[str, int] = field(default_factory=dict)
    _next_id: int = 0

    async def store(self, events: Sequence[NewEvent], now: float) -> list[StoreResult]:
        return [self._store(ev, now) for ev in events]

    async def claim(
        self, connector: str, *, limit: int, now: float, lease_seconds: float, worker_id: str
    ) -> list[ClaimedDelivery]:
        mine = [d for d in self.deliveries.values() if d.connector == connector]
        lapsed = [
            d for d in mine if d.status is IN_FLIGHT and d.lease_until is not None and d.lease_until < now
        ]
        due = [d for d in mine if d.status is PENDING and d.next_attempt_at <= now]
        chosen = [*_first(lapsed, limit), *_first(due, limit - min(len(lapsed), limit))]
        for d in chosen:
            d.status, d.lease_until, d.worker_id = IN_FLIGHT, now + lease_seconds, worker_id
            d.attempts += 1
            d.updated_at = now
        out = [
            claimed(d.id, connector, d.attempts, d.created_at, self.events[d.event_pk], d.verdict)
            for d in chosen
        ]
        return sorted(out, key=lambda c: c.delivery_id)

    async def renew(self, worker_id: str, delivery_ids: Collection[int], lease_until: float) -> int:
        held = [d for i in set(delivery_ids) if (d := self._held(i, worker_id)) is not None]
        for d in held:
            d.lease_until = lease_until
        return len(held)

    async def complete(
        self, connector: str, worker_id: str, completions: Sequence[Completion], now: float
    ) -> int:
        updated = 0
        for c in completions:
            d = self._held(c.delivery_id, worker_id)
            if d is not None:
                d.status, d.next_attempt_at, d.last_error = c.status, c.next_attempt_at, c.last_error
                d.attempts += c.attempts_delta
                d.lease_until, d.updated_at = None, now
                d.delivered_at = now if c.status is DeliveryStatus.DELIVERED else None
                updated += 1
            response = c.response if c.response is not None else c.last_error
            self.attempts.append(
                MemoryAttempt(c.delivery_id, now, c.outcome, c.status_code, response, c.latency_ms, c.request)
            )
        self._note(connector, completions, now)
        return updated

    async def paused(self, connector: str) -> bool:
        return bool(self.states.get(connector, {}).get("state") == "paused")

    async def pause(self, connector: str, reason: str, config_hash: str) -> None:
        self._state(connector).update(state="paused", reason=reason, config_hash=config_hash)

    def resume(self, connector: str) -> bool:
        """Resume a paused connector (``relay connectors resume``); False when it was not paused."""
        state = self._state(connector)
        was_paused = bool(state["state"] == "paused")
        state.update(state="active", reason=None)
        return was_paused

    def of_event(self, event_id: str) -> list[MemoryDelivery]:
        """The deliveries of the events stored with ``event_id``, in order."""
        pks = {pk for pk, row in self.events.items() if row["event_id"] == event_id}
        return [d for d in self.deliveries.values() if d.event_pk in pks]

    # -- storing

    def _store(self, ev: NewEvent, now: float) -> StoreResult:
        try:
            row = _event_row(ev)
        except (TypeError, ValueError, RecursionError):
            return StoreResult(-1, False, UNENCODABLE)
        pk = self._find(ev.dedup_key, now)
        if pk is not None:
            for d in self._merge_copy(pk, ev, now):
                self._add_delivery(pk, d, now)
            return StoreResult(pk, duplicate=True)
        pk = self._new_id()
        self.events[pk] = {"id": pk, **row}
        self._keys[ev.dedup_key] = pk
        for d in ev.deliveries:
            self._add_delivery(pk, d, now)
        return StoreResult(pk, duplicate=False)

    def _find(self, key: str, now: float) -> int | None:
        pk = self._keys.get(key)
        if pk is None:
            return None
        if self.events[pk]["received_at"] >= now - dedup.DEDUP_WINDOW_SECONDS:
            return pk
        del self._keys[key]  # outside the 48 h window the same key is a new event
        return None

    def _merge_copy(self, pk: int, copy: NewEvent, now: float) -> list[NewDelivery]:
        """:func:`relay.storage.dedup.merge_copy`, on the dicts."""
        row = self.events[pk]
        if copy.source == dedup.SERVER_SOURCE and row["source"] != dedup.SERVER_SOURCE:
            return self._server_wins(row, copy, now)
        browser_to_server = row["source"] == dedup.SERVER_SOURCE and copy.source != dedup.SERVER_SOURCE
        self._enrich(row, copy, same_trust=not browser_to_server)
        return []

    def _server_wins(self, row: dict[str, Any], copy: NewEvent, now: float) -> list[NewDelivery]:
        fresh = _event_row(copy)
        ids, ip, user_agent = fresh["ids"], copy.ip, copy.user_agent
        if dedup.sendable(copy) and not row["pii_purged"]:
            ids = {**{k: v for k, v in row["ids"].items() if k in dedup.BROWSER_IDS}, **ids}
            ip = ip if ip is not None else row["ip"]
            user_agent = user_agent if user_agent is not None else row["user_agent"]
        kept = {k: row[k] for k in ("event_id", "event_name", "dedup_key", "received_at")}
        row.update({**fresh, **kept, "ids": ids, "ip": ip, "user_agent": user_agent})
        added = []
        for d in copy.deliveries:
            pending = [x for x in self.deliveries.values() if _pending_of(x, row["id"], d.connector)]
            for x in pending:
                x.status, x.verdict = DeliveryStatus(d.status), _verdict(d)
                x.attempts, x.next_attempt_at, x.lease_until, x.worker_id = 0, now, None, None
                x.last_error, x.created_at, x.updated_at = d.last_error, now, now
            if not pending:
                added.append(d)
        return added

    def _enrich(self, row: dict[str, Any], copy: NewEvent, *, same_trust: bool) -> None:
        pending = any(d.event_pk == row["id"] and d.status is PENDING for d in self.deliveries.values())
        if not pending or row["pii_purged"]:
            return
        given = _event_row(copy)
        if same_trust:
            for key in ("hashed", "ids", "custom"):
                row[key] = {**given[key], **row[key]}
        else:
            extra = {k: v for k, v in given["ids"].items() if k in dedup.BROWSER_IDS and k not in row["ids"]}
            row["ids"] = {**row["ids"], **extra}
        for column in dedup.SAME_TRUST_COLUMNS if same_trust else dedup.BROWSER_COLUMNS:
            if row[column] is None and given[column] is not None:
                row[column] = given[column]

    def _add_delivery(self, pk: int, d: NewDelivery, now: float) -> None:
        i = self._new_id()
        status = DeliveryStatus(d.status)
        self.deliveries[i] = MemoryDelivery(
            i,
            pk,
            d.connector,
            status,
            _verdict(d),
            now,
            next_attempt_at=now,
            last_error=d.last_error,
            updated_at=now,
        )

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- claims

    def _held(self, delivery_id: int, worker_id: str) -> MemoryDelivery | None:
        d = self.deliveries.get(delivery_id)
        return d if d is not None and d.status is IN_FLIGHT and d.worker_id == worker_id else None

    def _state(self, connector: str) -> dict[str, Any]:
        empty = {"name": connector, "state": "active", "reason": None, "config_hash": None}
        return self.states.setdefault(connector, {**empty, "last_error": None, "last_error_at": None})

    def _note(self, connector: str, done: Sequence[Completion], now: float) -> None:
        if any(c.outcome is AttemptOutcome.DELIVERED for c in done):
            self._state(connector)["last_success_at"] = now
        failed = (AttemptOutcome.RETRYABLE, AttemptOutcome.PERMANENT)
        errors = [c.last_error for c in done if c.outcome in failed and c.last_error]
        if errors:
            self._state(connector).update(last_error=errors[-1], last_error_at=now)


def _first(rows: list[MemoryDelivery], limit: int) -> list[MemoryDelivery]:
    return sorted(rows, key=lambda d: (d.next_attempt_at, d.id))[: max(limit, 0)]


def _pending_of(d: MemoryDelivery, pk: int, connector: str) -> bool:
    return d.event_pk == pk and d.connector == connector and d.status is PENDING


def _verdict(d: NewDelivery) -> ConsentVerdict:
    return ConsentVerdict(d.decision, d.reason, d.mode, d.ldu)  # type: ignore[arg-type]


def _event_row(ev: NewEvent) -> dict[str, Any]:
    """The event as the database holds it: JSON columns through JSON (as encoded on SQL), so a stored
    event never shares a mutable value with its caller."""
    return {
        "event_id": ev.event_id,
        "event_name": ev.event_name,
        "dedup_key": ev.dedup_key,
        "event_time": ev.event_time,
        "received_at": ev.received_at,
        "action_source": ev.action_source,
        "source": ev.source,
        "event_source_url": ev.event_source_url,
        "referrer_url": ev.referrer_url,
        "opt_out": ev.opt_out,
        "hashed": _through_json(ev.hashed),
        "ids": _through_json(ev.ids),
        "ip": ev.ip,
        "user_agent": ev.user_agent,
        "custom": _through_json(ev.custom),
        "consent": _through_json(ev.consent),
        "pii_purged": False,
    }


def _through_json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


__all__ = ["MemoryAttempt", "MemoryDelivery", "MemoryOutbox"]
