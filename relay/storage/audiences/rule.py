"""The events rule's queries: the stored events a rule includes or excludes, streamed in pages, and
the scratch set of identifiers it sets aside.

A rule item with conditions (``ViewContent with engaged_seconds >= 30``) reads numbers out of the
JSON ``custom`` column (SQLite ``json_type``/``json_extract``, PostgreSQL ``json_typeof``/
``json_extract_path_text``; a value that is not a number never matches) and the page views' event ids
out of their ``PageEngagement`` event (``json_each`` / ``json_array_elements_text``).

The streaming readers run in a source thread; the others in the database thread pool
(``Database.run``).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, and_, case, cast, exists, false, func, literal, or_, select, true
from sqlalchemy.types import Float

from relay.engagement import EVENT, PAGE_EVENT_IDS, Condition, RuleTerm
from relay.storage.audiences.sql import insert_ignore, matching, scratch
from relay.storage.lease import deliveries, events
from relay.storage.stored_json import as_object, readable

EventIdentity = tuple[str, dict[str, Any], dict[str, Any]]  # (person key, hashed, ids)


def _person() -> Any:
    e = events
    return func.coalesce(
        readable(e.c.hashed)[("external_id", 0)].as_string(),
        readable(e.c.hashed)[("em", 0)].as_string(),
        readable(e.c.hashed)[("ph", 0)].as_string(),
        readable(e.c.ids)["madid"].as_string(),
    )


def _window(since: float | None) -> list[Any]:
    e = events
    if since is None:
        return [e.c.pii_purged == false()]
    # received_at is indexed; an event is received after it happened (the hour covers clock skew)
    return [e.c.pii_purged == false(), e.c.received_at >= since - 3600, e.c.event_time >= since]


def _number(dialect: str, table: Any, key: str) -> Any:
    """``custom[key]`` as a number, NULL when it is not one (a stored value is never cast blindly)."""
    custom = readable(table.c.custom)
    if dialect == "postgresql":
        is_number = func.json_typeof(func.json_extract_path(custom, key)) == "number"
        return case((is_number, cast(func.json_extract_path_text(custom, key), Float)), else_=None)
    path = f"$.{key}"
    return case((func.json_type(custom, path).in_(("integer", "real")), func.json_extract(custom, path)))


_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "=": operator.eq}


def _compare(value: Any, condition: Condition) -> Any:
    return _OPS[condition.op](value, condition.value)


def _engaged_pages(dialect: str, conditions: Sequence[Condition], since: float | None) -> Any:
    """The ids of the events tracked in page views whose engagement meets ``conditions``."""
    g = events.alias("g")
    if dialect == "postgresql":
        listed = func.json_extract_path(g.c.custom, PAGE_EVENT_IDS)
        array = case((func.json_typeof(listed) == "array", listed), else_=literal("[]").cast(g.c.custom.type))
        ids = func.json_array_elements_text(array).table_valued("value")
        kept: Any = true()
    else:
        ids = func.json_each(readable(g.c.custom), f"$.{PAGE_EVENT_IDS}").table_valued("value", "type")
        is_list = func.json_type(readable(g.c.custom), f"$.{PAGE_EVENT_IDS}") == "array"
        kept = and_(is_list, ids.c.type == "text")
    met = [_compare(_number(dialect, g, c.field), c) for c in conditions]
    recent = [g.c.received_at >= since - 3600] if since is not None else []
    return (
        select(ids.c.value)
        .select_from(g.join(ids, true()))
        .where(g.c.event_name == EVENT, kept, *met, *recent)
    )


def _terms(dialect: str, terms: Sequence[RuleTerm], since: float | None) -> Any:
    """The rule's events: a plain name matches by name; a name with conditions also needs the event's
    own ``custom`` or its page view's engagement to meet them."""
    e = events
    plain = [t.event_name for t in terms if not t.conditions]
    clauses = [e.c.event_name.in_(plain)] if plain else []
    for term in (t for t in terms if t.conditions):
        own = and_(*(_compare(_number(dialect, e, c.field), c) for c in term.conditions))
        linked = e.c.event_id.in_(_engaged_pages(dialect, term.conditions, since))
        clauses.append(and_(e.c.event_name == term.event_name, or_(own, linked)))
    return or_(*clauses) if clauses else false()


def included_events(
    engine: Engine, destination: str, terms: Sequence[RuleTerm], since: float | None, *, page: int = 2000
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
        select(person.label("person"), readable(e.c.hashed), readable(e.c.ids))
        .where(_terms(engine.dialect.name, terms, since), consented, person.is_not(None), *_window(since))
        .order_by(person, e.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=page).execute(stmt)
        for rows in result.partitions():
            yield [(row[0], as_object(row[1]), as_object(row[2])) for row in rows]


def excluded_events(
    engine: Engine, terms: Sequence[RuleTerm], since: float | None, *, page: int = 2000
) -> Iterator[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Identifiers of events of the rule's ``exclude`` items in the window, whatever their consent:
    excluding a person sends nothing about them."""
    e = events
    matched = _terms(engine.dialect.name, terms, since)
    stmt = select(readable(e.c.hashed), readable(e.c.ids)).where(matched, *_window(since)).order_by(e.c.id)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=page).execute(stmt)
        for rows in result.partitions():
            yield [(as_object(row[0]), as_object(row[1])) for row in rows]


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
