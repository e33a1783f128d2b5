"""Data-subject erasure: strip a person's identifiers from stored events, drop them from api-source
members and keep their digests on the suppression list that every later sync honours.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, Text, and_, cast, exists, or_, select, update

from relay.storage.audiences.api_source import delete_api_members
from relay.storage.audiences.sql import api_idents, insert_ignore, payloads, state, suppressions_t
from relay.storage.lease import events


def _mentions(column: Any, digests: Iterable[str]) -> Any:
    # the digests are hex: no LIKE wildcard can hide in them; a candidate is verified by the caller
    text = cast(column, Text) if isinstance(column.type, JSON) else column
    return or_(*(text.like(f"%{d}%") for d in digests))


def erase_events(engine: Engine, digests: set[str], matches: Callable[[Mapping[str, Any]], bool]) -> int:
    """Strip every identifier (hashed contact details, device and click ids, IP, user agent) from the
    stored events of the person whose ``digests`` these are; returns how many events were changed."""
    e, last, changed = events, 0, 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(e.c.id, cast(e.c.hashed, Text).label("hashed"))
                .where(e.c.id > last, _mentions(e.c.hashed, digests))
                .order_by(e.c.id)
                .limit(500)
            ).all()
            if not rows:
                return changed
            last = rows[-1].id
            hit = [row.id for row in rows if _erased(row.hashed, matches)]
            if hit:
                conn.execute(
                    update(e)
                    .where(e.c.id.in_(hit))
                    .values(hashed={}, ids={}, ip=None, user_agent=None, pii_purged=True)
                )
                changed += len(hit)


def _erased(text: str | None, matches: Callable[[Mapping[str, Any]], bool]) -> bool:
    """Whether a stored ``hashed`` value (as text) names the person. One that mentions a digest of theirs
    but cannot be read as a JSON object (SQLite keeps any text) is erased too: erasure errs on the side
    of removing, and one such row never stops the others' erasure."""
    try:
        hashed = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return True
    return matches(hashed) if isinstance(hashed, dict) else True


def erase_members(engine: Engine, digests: set[str], matches: Callable[[str], bool], now: float) -> set[str]:
    """Remove the person from api-source members and put their identifiers on the suppression list, so
    that the next sync of every destination removes them; returns the audiences they were in."""
    found: set[str] = set()
    with engine.begin() as conn:
        rows = conn.execute(
            select(api_idents.c.audience, api_idents.c.member_key).where(
                api_idents.c.ident.in_(sorted(digests))
            )
        ).all()
        for audience, key in {(r.audience, r.member_key) for r in rows}:
            delete_api_members(conn, audience, [key])
            found.add(audience)
        found |= _acknowledged_in(conn, digests, matches)
        insert_ignore(conn, suppressions_t, [{"ident": d, "created_at": now} for d in sorted(digests)])
    return found


def _acknowledged_in(conn: Connection, digests: set[str], matches: Callable[[str], bool]) -> set[str]:
    """The audiences whose acknowledged state of some destination holds the person."""
    p, last, found = payloads, ("", ""), set[str]()
    while True:
        page = conn.execute(
            select(p.c.audience, p.c.member_key, p.c.member)
            .where(
                or_(p.c.audience > last[0], and_(p.c.audience == last[0], p.c.member_key > last[1])),
                _mentions(p.c.member, digests),
            )
            .order_by(p.c.audience, p.c.member_key)
            .limit(500)
        ).all()
        if not page:
            return found
        last = (page[-1].audience, page[-1].member_key)
        for row in page:
            acked = exists().where(state.c.audience == row.audience, state.c.member_key == row.member_key)
            if matches(row.member) and conn.execute(select(acked)).scalar():
                found.add(row.audience)


def suppressed(engine: Engine) -> set[str]:
    """Identifiers of every person who asked to be deleted."""
    with engine.connect() as conn:
        return set(conn.execute(select(suppressions_t.c.ident)).scalars())


__all__ = ["erase_events", "erase_members", "suppressed"]
