"""Reads and maintenance: listings, stats, traces, replay, connector states, secrets, retention."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.storage.lease import attempts_t, deliveries, ensure_state, events, states
from relay.storage.stored_json import as_object, readable_columns
from relay.storage.tables import AdminSessionRow, HeartbeatRow, SecretRow
from relay.types import EMAIL_FORMS

secrets_t = SecretRow.__table__  # type: ignore[attr-defined]
sessions_t = AdminSessionRow.__table__  # type: ignore[attr-defined]
heartbeats_t = HeartbeatRow.__table__  # type: ignore[attr-defined]
#: a session's last use is recorded at most this often (seconds): a dashboard polls every few seconds
SESSION_TOUCH_SECONDS = 60.0


@dataclass(frozen=True)
class DeliverySelection:
    """What every listing of deliveries filters on (each None: any)."""

    status: str | None = None
    connector: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class DeliveryFilter(DeliverySelection):
    since: float | None = None
    until: float | None = None
    limit: int = 100


def _filtered(stmt: Any, f: DeliveryFilter) -> Any:
    d = deliveries
    if f.status:
        stmt = stmt.where(d.c.status == f.status)
    if f.connector:
        stmt = stmt.where(d.c.connector == f.connector)
    if f.event_id:
        stmt = stmt.where(d.c.event_pk.in_(select(events.c.id).where(events.c.event_id == f.event_id)))
    if f.since is not None:
        stmt = stmt.where(d.c.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(d.c.created_at <= f.until)
    return stmt


def delivery_listing(*extra: Any) -> Any:
    """Deliveries joined with their event, newest first: the columns :func:`listed_delivery` reads,
    then ``extra``."""
    d, e = deliveries, events
    columns = (d.c.id, e.c.event_id, e.c.event_name, d.c.connector, d.c.status, d.c.attempts)
    consent = (d.c.consent_decision, d.c.consent_reason, d.c.consent_mode)
    times = (d.c.created_at, d.c.updated_at, d.c.next_attempt_at)
    stmt = select(*columns, d.c.last_error, *consent, *times, *extra)
    return stmt.join(e, e.c.id == d.c.event_pk).order_by(d.c.id.desc())


def listed_delivery(r: Any) -> dict[str, Any]:
    """One row of :func:`delivery_listing` as the admin API shows it."""
    return {
        "id": r.id,
        "event_id": r.event_id,
        "event_name": r.event_name,
        "connector": r.connector,
        "status": r.status,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "consent": {"decision": r.consent_decision, "reason": r.consent_reason, "mode": r.consent_mode},
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "next_attempt_at": r.next_attempt_at,  # meaningful while pending (a finished row keeps its last)
    }


def list_deliveries(engine: Engine, f: DeliveryFilter) -> list[dict[str, Any]]:
    stmt = delivery_listing().limit(f.limit)
    with engine.connect() as conn:
        rows = conn.execute(_filtered(stmt, f)).all()
    return [listed_delivery(r) for r in rows]


def replay(engine: Engine, f: DeliveryFilter, now: float) -> int:
    """Requeue matching deliveries with attempts reset; consent skips are never replayed."""
    d = deliveries
    status = f.status or "dead"
    stmt = update(d).where(d.c.status == status, d.c.consent_decision != "deny")
    stmt = _filtered(stmt, DeliveryFilter(None, f.connector, f.event_id, f.since, f.until))
    stmt = stmt.values(
        status="pending", attempts=0, next_attempt_at=now, last_error=None, lease_until=None, updated_at=now
    )
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount or 0)


def stats(engine: Engine, now: float) -> dict[str, Any]:
    d, e = deliveries, events
    with engine.connect() as conn:
        by_status = conn.execute(
            select(d.c.connector, d.c.status, func.count()).group_by(d.c.connector, d.c.status)
        )
        decisions = conn.execute(
            select(d.c.connector, d.c.consent_decision, func.count()).group_by(
                d.c.connector, d.c.consent_decision
            )
        )
        counts: dict[str, dict[str, int]] = {}
        for connector, status, n in by_status:
            counts.setdefault(connector, {})[status] = n
        consent: dict[str, dict[str, int]] = {}
        for connector, decision, n in decisions:
            consent.setdefault(connector, {})[decision] = n
        received_1m = conn.execute(select(func.count()).where(e.c.received_at >= now - 60)).scalar_one()
        received_1h = conn.execute(select(func.count()).where(e.c.received_at >= now - 3600)).scalar_one()
        delivered_1m = conn.execute(
            select(func.count()).where(d.c.status == "delivered", d.c.delivered_at >= now - 60)
        ).scalar_one()
        delivered_1h = conn.execute(
            select(func.count()).where(d.c.status == "delivered", d.c.delivered_at >= now - 3600)
        ).scalar_one()
    return {
        "deliveries": counts,
        "consent": consent,
        "ingest": {
            "last_minute": received_1m,
            "last_hour": received_1h,
            "per_second": round(received_1m / 60, 3),
        },
        "delivery": {
            "last_minute": delivered_1m,
            "last_hour": delivered_1h,
            "per_second": round(delivered_1m / 60, 3),
        },
    }


def pending_counts(engine: Engine) -> dict[str, int]:
    d = deliveries
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.c.connector, func.count())
            .where(d.c.status.in_(("pending", "in_flight")))
            .group_by(d.c.connector)
        )
        return {connector: n for connector, n in rows}


#: what a trace shows for a stored consent record that is not a JSON object
UNREADABLE = "the stored record is not a JSON object"


def event_trace(engine: Engine, event_id: str) -> list[dict[str, Any]]:
    """Every stored event with this id: when it was received, the decision and attempts per connector."""
    e, d, a = events, deliveries, attempts_t
    with engine.connect() as conn:
        # the JSON columns through ``readable``: a value SQLite holds that is not JSON shows as unreadable
        rows = conn.execute(
            select(*readable_columns(e)).where(e.c.event_id == event_id).order_by(e.c.id)
        ).all()
        out = []
        for ev in rows:
            dels = conn.execute(select(d).where(d.c.event_pk == ev.id).order_by(d.c.id)).all()
            tries = (
                conn.execute(
                    select(a).where(a.c.delivery_id.in_([x.id for x in dels])).order_by(a.c.id)
                ).all()
                if dels
                else []
            )
            out.append(
                {
                    "event_id": ev.event_id,
                    "event_name": ev.event_name,
                    "event_time": ev.event_time,
                    "received_at": ev.received_at,
                    "source": ev.source,
                    "action_source": ev.action_source,
                    # an email is listed once, as em, not again in each platform's form
                    "identifiers": sorted(k for k in as_object(ev.hashed) if k not in EMAIL_FORMS)
                    + sorted(as_object(ev.ids)),
                    "consent": ev.consent if isinstance(ev.consent, dict) else {"unreadable": UNREADABLE},
                    "deliveries": [
                        {
                            "id": x.id,
                            "connector": x.connector,
                            "status": x.status,
                            "attempts": x.attempts,
                            "last_error": x.last_error,
                            "consent": {
                                "decision": x.consent_decision,
                                "reason": x.consent_reason,
                                "mode": x.consent_mode,
                            },
                            "attempt_log": [
                                {
                                    "at": t.at,
                                    "outcome": t.outcome,
                                    "status_code": t.status_code,
                                    "request": t.request,
                                    "response": t.response,
                                    "latency_ms": t.latency_ms,
                                }
                                for t in tries
                                if t.delivery_id == x.id
                            ],
                        }
                        for x in dels
                    ],
                }
            )
    return out


def connector_states(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row.name: row._asdict() for row in conn.execute(select(states))}


def pause_connector(engine: Engine, name: str, reason: str, config_hash: str) -> None:
    with engine.begin() as conn:
        ensure_state(conn, name)
        conn.execute(
            update(states)
            .where(states.c.name == name)
            .values(state="paused", reason=reason, config_hash=config_hash)
        )


def resume_connector(engine: Engine, name: str) -> bool:
    """Resume a paused connector; False when it was not paused."""
    with engine.begin() as conn:
        ensure_state(conn, name)
        result = conn.execute(
            update(states)
            .where(states.c.name == name, states.c.state == "paused")
            .values(state="active", reason=None)
        )
        return bool(result.rowcount)


def resume_reconfigured(engine: Engine, hashes: dict[str, str]) -> list[str]:
    """Resume paused connectors whose configuration changed since they were paused."""
    resumed = []
    for name, state in connector_states(engine).items():
        if state["state"] == "paused" and name in hashes and state["config_hash"] != hashes[name]:
            resume_connector(engine, name)
            resumed.append(name)
    return resumed


def secret_digests(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.name: row.digest for row in conn.execute(select(secrets_t))}


def save_secret(engine: Engine, name: str, digest: str, now: float) -> None:
    with engine.begin() as conn:
        conn.execute(delete(secrets_t).where(secrets_t.c.name == name))
        conn.execute(insert(secrets_t).values(name=name, digest=digest, created_at=now))


def open_session(engine: Engine, digest: str, token_digest: str, now: float, expires_at: float) -> None:
    """Store a new dashboard session (its digest only), dropping expired ones on the way."""
    with engine.begin() as conn:
        conn.execute(delete(sessions_t).where(sessions_t.c.expires_at <= now))
        conn.execute(
            insert(sessions_t).values(
                digest=digest,
                token_digest=token_digest,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )


def session_token(engine: Engine, digest: str, now: float, idle_seconds: float) -> str | None:
    """The admin token digest a live session was opened with, recording its use; None when the session
    is unknown, expired or idle for longer than ``idle_seconds``."""
    s = sessions_t
    with engine.connect() as conn:
        row = conn.execute(select(s).where(s.c.digest == digest)).first()
    if row is None or row.expires_at <= now or row.last_seen_at < now - idle_seconds:
        return None
    if row.last_seen_at < now - SESSION_TOUCH_SECONDS:
        with engine.begin() as conn:
            conn.execute(update(s).where(s.c.digest == digest).values(last_seen_at=now))
    return str(row.token_digest)


def close_session(engine: Engine, digest: str) -> bool:
    """End a session; False when there was none."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(sessions_t).where(sessions_t.c.digest == digest)).rowcount)


def heartbeat(engine: Engine, name: str, now: float) -> None:
    """Rewrite ``name``'s heartbeat row in a committed transaction: proof that storage takes writes."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(heartbeats_t).values(name=name, at=now)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": now}))


def purge(engine: Engine, cutoff: float, now: float | None = None) -> dict[str, int]:
    """Delete events received before ``cutoff`` whose deliveries are all finished, with their trail;
    strip IP and user agent from older events still in the queue; delete the dashboard sessions that
    expired before ``now`` (they are refused anyway; a sign-in drops them too)."""
    now = time.time() if now is None else now
    e, d, a = events, deliveries, attempts_t
    open_events = select(d.c.event_pk).where(d.c.status.in_(("pending", "in_flight")))
    old = select(e.c.id).where(e.c.received_at < cutoff, e.c.id.not_in(open_events))
    with engine.begin() as conn:
        ids = [row.id for row in conn.execute(old)]
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            dels = select(d.c.id).where(d.c.event_pk.in_(chunk))
            conn.execute(delete(a).where(a.c.delivery_id.in_(dels)))
            conn.execute(delete(d).where(d.c.event_pk.in_(chunk)))
            removed += conn.execute(delete(e).where(e.c.id.in_(chunk))).rowcount or 0
        stripped = conn.execute(
            update(e).where(e.c.received_at < cutoff, e.c.ip.is_not(None)).values(ip=None, user_agent=None)
        ).rowcount
        ended = conn.execute(delete(sessions_t).where(sessions_t.c.expires_at <= now)).rowcount
    return {
        "events_deleted": int(removed),
        "events_stripped": int(stripped or 0),
        "sessions_deleted": int(ended or 0),
    }
