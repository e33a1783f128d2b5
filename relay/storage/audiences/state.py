"""The acknowledged state: per destination, the members the platform confirmed, the platform audience
that state describes, and how far a full sync got.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, insert, literal, select, update

from relay.storage.audiences.sql import (
    chunks,
    insert_ignore,
    matching,
    payloads,
    scratch,
    staging,
    state,
    targets,
)


def ack_adds(engine: Engine, audience: str, destination: str, keys: Sequence[str]) -> int:
    """Record members the platform acknowledged; returns how many were new to the state."""
    m = state
    with engine.begin() as conn:
        known = matching(conn, m.c.member_key, keys, m.c.audience == audience, m.c.destination == destination)
        fresh = [k for k in dict.fromkeys(keys) if k not in known]
        insert_ignore(
            conn, m, [{"audience": audience, "destination": destination, "member_key": k} for k in fresh]
        )
    return len(fresh)


def ack_removes(engine: Engine, audience: str, destination: str, keys: Sequence[str]) -> None:
    """Forget members the platform confirmed it removed."""
    m = state
    with engine.begin() as conn:
        for chunk in chunks(keys):
            conn.execute(
                delete(m).where(
                    m.c.audience == audience, m.c.destination == destination, m.c.member_key.in_(chunk)
                )
            )


def replace_state(engine: Engine, audience: str, scope: str, destination: str) -> None:
    """After a replace session closed: the destination's state becomes the staged set, in one transaction."""
    m, st = state, staging
    members = select(literal(audience), literal(destination), st.c.member_key).where(
        st.c.audience == audience, st.c.scope == scope
    )
    with engine.begin() as conn:
        conn.execute(delete(m).where(m.c.audience == audience, m.c.destination == destination))
        conn.execute(insert(m).from_select(["audience", "destination", "member_key"], members))
        _clear_progress(conn, audience, destination)


def finish(engine: Engine, audience: str) -> None:
    """Drop the run's staging and scratch rows and the payloads no destination's state needs."""
    p, m = payloads, state
    with engine.begin() as conn:
        conn.execute(delete(staging).where(staging.c.audience == audience))
        conn.execute(delete(scratch).where(scratch.c.audience == audience))
        dests = list(
            conn.execute(select(targets.c.destination).where(targets.c.audience == audience)).scalars()
        )
        needed = exists().where(
            m.c.audience == audience, m.c.destination.in_(dests or [""]), m.c.member_key == p.c.member_key
        )
        conn.execute(delete(p).where(p.c.audience == audience, ~needed))


# -- destinations and full-sync progress ------------------------------------------------------------


def bind_target(engine: Engine, audience: str, destination: str, platform_id: str, now: float) -> bool:
    """Remember which platform audience a destination syncs to; when it changed, forget the old state
    (it describes another audience). True when state was forgotten."""
    t = targets
    where = and_(t.c.audience == audience, t.c.destination == destination)
    with engine.begin() as conn:
        row = conn.execute(select(t.c.platform_audience_id).where(where)).first()
        if row is None:
            conn.execute(
                insert(t).values(
                    audience=audience,
                    destination=destination,
                    platform_audience_id=platform_id,
                    batch_seq=0,
                    resume_after="",
                    sent=0,
                    updated_at=now,
                )
            )
            return False
        if row.platform_audience_id == platform_id:
            return False
        conn.execute(delete(state).where(state.c.audience == audience, state.c.destination == destination))
        conn.execute(update(t).where(where).values(platform_audience_id=platform_id, updated_at=now))
        _clear_progress(conn, audience, destination)
        return True


def bound_audience_id(engine: Engine, audience: str, destination: str) -> str | None:
    """The platform audience the destination's state describes (None before its first sync)."""
    t = targets
    with engine.connect() as conn:
        found = conn.execute(
            select(t.c.platform_audience_id).where(t.c.audience == audience, t.c.destination == destination)
        ).scalar()
    return None if found is None else str(found)


def target(engine: Engine, audience: str, destination: str) -> dict[str, Any]:
    """The destination's row: its platform audience and its full-sync progress."""
    t = targets
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.audience == audience, t.c.destination == destination)).one()
    return row._asdict()


def save_progress(engine: Engine, audience: str, destination: str, **values: Any) -> None:
    """Record how far a full sync got: mode, session_id, batch_seq, resume_after, sent, fingerprint."""
    t = targets
    with engine.begin() as conn:
        conn.execute(
            update(t).where(t.c.audience == audience, t.c.destination == destination).values(**values)
        )


def clear_progress(engine: Engine, audience: str, destination: str) -> None:
    """Forget a full sync's progress, so that the next one starts over."""
    with engine.begin() as conn:
        _clear_progress(conn, audience, destination)


def _clear_progress(conn: Connection, audience: str, destination: str) -> None:
    t = targets
    conn.execute(
        update(t)
        .where(t.c.audience == audience, t.c.destination == destination)
        .values(mode=None, session_id=None, batch_seq=0, resume_after="", sent=0, fingerprint=None)
    )


__all__ = [
    "ack_adds",
    "ack_removes",
    "bind_target",
    "bound_audience_id",
    "clear_progress",
    "finish",
    "replace_state",
    "save_progress",
    "target",
]
