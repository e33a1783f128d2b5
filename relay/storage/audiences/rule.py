"""The events rule's queries: the stored events a rule includes or excludes, streamed in pages, and
the scratch set of identifiers it sets aside.

The streaming readers run in a source thread; the others in the database thread pool
(``Database.run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, exists, false, func, or_, select

from relay.storage.audiences.sql import insert_ignore, matching, scratch
from relay.storage.lease import deliveries, events

EventIdentity = tuple[str, dict[str, Any], dict[str, Any]]  # (person key, hashed, ids)


def _person() -> Any:
    e = events
    return func.coalesce(
        e.c.hashed[("external_id", 0)].as_string(),
        e.c.hashed[("em", 0)].as_string(),
        e.c.hashed[("ph", 0)].as_string(),
        e.c.ids["madid"].as_string(),
    )


def _window(since: float | None) -> list[Any]:
    e = events
    if since is None:
        return [e.c.pii_purged == false()]
    # received_at is indexed; an event is received after it happened (the hour covers clock skew)
    return [e.c.pii_purged == false(), e.c.received_at >= since - 3600, e.c.event_time >= since]


def included_events(
    engine: Engine, destination: str, names: Sequence[str], since: float | None, *, page: int = 2000
) -> Iterator[list[EventIdentity]]:
    """Events of the rule's ``include`` names in the window whose delivery to ``destination`` consent
    allowed (``allow``, or ``limited`` other than ``strip``, which sends no contact details), with a
    person key, ordered by person so that one person's events come together."""
    e, d = events, deliveries
    consented = exists().where(
        d.c.event_pk == e.c.id,
        d.c.connector == destination,
        d.c.consent_decision.in_(("allow", "limited")),
        or_(d.c.consent_mode.is_(None), d.c.consent_mode != "strip"),
    )
    person = _person()
    stmt = (
        select(person.label("person"), e.c.hashed, e.c.ids)
        .where(e.c.event_name.in_(list(names)), consented, person.is_not(None), *_window(since))
        .order_by(person, e.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=page).execute(stmt)
        for rows in result.partitions():
            yield [(row[0], dict(row[1] or {}), dict(row[2] or {})) for row in rows]


def excluded_events(
    engine: Engine, names: Sequence[str], since: float | None, *, page: int = 2000
) -> Iterator[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Identifiers of events of the rule's ``exclude`` names in the window, whatever their consent:
    excluding a person sends nothing about them."""
    e = events
    stmt = (
        select(e.c.hashed, e.c.ids).where(e.c.event_name.in_(list(names)), *_window(since)).order_by(e.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=page).execute(stmt)
        for rows in result.partitions():
            yield [(dict(row[0] or {}), dict(row[1] or {})) for row in rows]


def add_scratch(engine: Engine, audience: str, scope: str, idents: Iterable[str]) -> None:
    """Set ``idents`` aside for this run and scope (an identifier set aside twice counts once)."""
    rows = [{"audience": audience, "scope": scope, "ident": i} for i in set(idents)]
    with engine.begin() as conn:
        insert_ignore(conn, scratch, rows)


def scratch_hits(engine: Engine, audience: str, scope: str, idents: Iterable[str]) -> set[str]:
    """Which of ``idents`` were set aside."""
    s = scratch
    with engine.connect() as conn:
        return matching(conn, s.c.ident, list(set(idents)), s.c.audience == audience, s.c.scope == scope)


__all__ = ["EventIdentity", "add_scratch", "excluded_events", "included_events", "scratch_hits"]
