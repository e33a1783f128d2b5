"""All SQL of the custom audience sync: the run lock, staging, the acknowledged state, diffs as keyset
pages, api-source members, the events rule's queries and data-subject erasure.

Every function takes the sync engine and runs in the database thread pool (``Database.run``) or, for
the streaming readers, in a source thread. Statements are portable between SQLite and PostgreSQL;
"insert unless present" uses each dialect's ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Text,
    and_,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from relay.storage.audience_tables import (
    AudienceApiIdentRow,
    AudienceApiMemberRow,
    AudiencePayloadRow,
    AudienceScratchRow,
    AudienceStagingRow,
    AudienceStateRow,
    AudienceSuppressionRow,
    AudienceSyncRow,
    AudienceTargetRow,
)
from relay.storage.outbox import deliveries, events

payloads = AudiencePayloadRow.__table__  # type: ignore[attr-defined]
staging = AudienceStagingRow.__table__  # type: ignore[attr-defined]
state = AudienceStateRow.__table__  # type: ignore[attr-defined]
targets = AudienceTargetRow.__table__  # type: ignore[attr-defined]
syncs = AudienceSyncRow.__table__  # type: ignore[attr-defined]
api_members = AudienceApiMemberRow.__table__  # type: ignore[attr-defined]
api_idents = AudienceApiIdentRow.__table__  # type: ignore[attr-defined]
scratch = AudienceScratchRow.__table__  # type: ignore[attr-defined]
suppressions_t = AudienceSuppressionRow.__table__  # type: ignore[attr-defined]

#: the staging scope of sources that are the same for every destination
ALL = "*"
#: bound parameters per IN list (SQLite allows 32766 per statement)
_IN_CHUNK = 5000
Page = list[tuple[str, str]]  # (member_key, canonical text)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_ignore(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key is already present."""
    if not rows:
        return
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        dialect_insert = sqlite.insert if name == "sqlite" else postgresql.insert
        conn.execute(dialect_insert(table).on_conflict_do_nothing(), list(rows))
        return
    for row in rows:  # other databases: one savepoint per row
        try:
            with conn.begin_nested():
                conn.execute(insert(table), [row])
        except IntegrityError:
            pass


# -- the run lock and the last run ------------------------------------------------------------------


def acquire(engine: Engine, audience: str, owner: str, now: float, lease: float, *, record: bool) -> bool:
    """Take the audience's lock unless a live lease holds it; ``record`` marks a run as started."""
    with engine.begin() as conn:
        insert_ignore(conn, syncs, [{"audience": audience, "status": "never"}])
    values: dict[str, Any] = {"owner": owner, "lease_until": now + lease}
    if record:
        values.update(status="running", started_at=now)
    free = or_(syncs.c.owner.is_(None), syncs.c.lease_until < now)
    with engine.begin() as conn:
        result = conn.execute(update(syncs).where(syncs.c.audience == audience, free).values(**values))
    return bool(result.rowcount == 1)


def renew(engine: Engine, audience: str, owner: str, now: float, lease: float) -> bool:
    """Extend the lease; False when this owner lost it."""
    with engine.begin() as conn:
        result = conn.execute(
            update(syncs)
            .where(syncs.c.audience == audience, syncs.c.owner == owner)
            .values(lease_until=now + lease)
        )
    return bool(result.rowcount == 1)


def release(
    engine: Engine,
    audience: str,
    owner: str,
    now: float,
    *,
    status: str | None = None,
    summary: str | None = None,
    error: str | None = None,
) -> None:
    """Give the lock back, recording the run's outcome when ``status`` is given."""
    values: dict[str, Any] = {"owner": None, "lease_until": None}
    if status is not None:
        values.update(status=status, finished_at=now, summary=summary, error=error)
    with engine.begin() as conn:
        conn.execute(
            update(syncs).where(syncs.c.audience == audience, syncs.c.owner == owner).values(**values)
        )


def sync_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every audience's lock and last run."""
    with engine.connect() as conn:
        return {row.audience: row._asdict() for row in conn.execute(select(syncs))}


# -- staging --------------------------------------------------------------------------------------


def clear_staging(engine: Engine, audience: str, scope: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(staging).where(staging.c.audience == audience, staging.c.scope == scope))
        conn.execute(delete(scratch).where(scratch.c.audience == audience, scratch.c.scope == scope))


def stage(engine: Engine, audience: str, scope: str, page: Page) -> None:
    """Add members to the staging set (a member staged twice counts once)."""
    unique = dict(page)
    with engine.begin() as conn:
        insert_ignore(
            conn, payloads, [{"audience": audience, "member_key": k, "member": t} for k, t in unique.items()]
        )
        insert_ignore(
            conn, staging, [{"audience": audience, "scope": scope, "member_key": k} for k in unique]
        )


@dataclass(frozen=True)
class DiffCounts:
    """Sizes of one destination's diff."""

    staged: int
    acknowledged: int
    adds: int

    @property
    def unchanged(self) -> int:
        return self.staged - self.adds

    @property
    def removes(self) -> int:
        return self.acknowledged - self.unchanged


def _not_acknowledged(audience: str, destination: str, key: Any) -> Any:
    return ~exists().where(
        state.c.audience == audience, state.c.destination == destination, state.c.member_key == key
    )


def _not_staged(audience: str, scope: str, key: Any) -> Any:
    return ~exists().where(
        staging.c.audience == audience, staging.c.scope == scope, staging.c.member_key == key
    )


def diff_counts(engine: Engine, audience: str, scope: str, destination: str) -> DiffCounts:
    st, m = staging, state
    mine = and_(st.c.audience == audience, st.c.scope == scope)
    with engine.connect() as conn:
        staged = conn.execute(select(func.count()).select_from(st).where(mine)).scalar_one()
        acked = conn.execute(
            select(func.count()).where(m.c.audience == audience, m.c.destination == destination)
        ).scalar_one()
        adds = conn.execute(
            select(func.count()).where(mine, _not_acknowledged(audience, destination, st.c.member_key))
        ).scalar_one()
    return DiffCounts(int(staged), int(acked), int(adds))


def _with_payload(key_column: Any, audience: str) -> Any:
    p = payloads
    return select(key_column, p.c.member).join(
        p, and_(p.c.audience == audience, p.c.member_key == key_column)
    )


def page_adds(engine: Engine, audience: str, scope: str, destination: str, after: str, limit: int) -> Page:
    """The next staged members the destination has not acknowledged, in key order after ``after``."""
    st = staging
    stmt = (
        _with_payload(st.c.member_key, audience)
        .where(st.c.audience == audience, st.c.scope == scope, st.c.member_key > after)
        .where(_not_acknowledged(audience, destination, st.c.member_key))
        .order_by(st.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


def page_removes(engine: Engine, audience: str, scope: str, destination: str, after: str, limit: int) -> Page:
    """The next acknowledged members the source no longer holds."""
    m = state
    stmt = (
        _with_payload(m.c.member_key, audience)
        .where(m.c.audience == audience, m.c.destination == destination, m.c.member_key > after)
        .where(_not_staged(audience, scope, m.c.member_key))
        .order_by(m.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


def page_staged(engine: Engine, audience: str, scope: str, after: str, limit: int) -> Page:
    """The next staged members, acknowledged or not (full syncs)."""
    st = staging
    stmt = (
        _with_payload(st.c.member_key, audience)
        .where(st.c.audience == audience, st.c.scope == scope, st.c.member_key > after)
        .order_by(st.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


def staged_keys(engine: Engine, audience: str, scope: str, after: str, limit: int) -> list[str]:
    st = staging
    stmt = (
        select(st.c.member_key)
        .where(st.c.audience == audience, st.c.scope == scope, st.c.member_key > after)
        .order_by(st.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


# -- the acknowledged state ------------------------------------------------------------------------


def ack_adds(engine: Engine, audience: str, destination: str, keys: Sequence[str]) -> int:
    """Record members the platform acknowledged; returns how many were new to the state."""
    m = state
    with engine.begin() as conn:
        known: set[str] = set()
        for chunk in _chunks(keys):
            known.update(
                conn.execute(
                    select(m.c.member_key).where(
                        m.c.audience == audience, m.c.destination == destination, m.c.member_key.in_(chunk)
                    )
                ).scalars()
            )
        fresh = [k for k in dict.fromkeys(keys) if k not in known]
        insert_ignore(
            conn, m, [{"audience": audience, "destination": destination, "member_key": k} for k in fresh]
        )
    return len(fresh)


def ack_removes(engine: Engine, audience: str, destination: str, keys: Sequence[str]) -> None:
    m = state
    with engine.begin() as conn:
        for chunk in _chunks(keys):
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
    with engine.begin() as conn:
        _clear_progress(conn, audience, destination)


def _clear_progress(conn: Connection, audience: str, destination: str) -> None:
    t = targets
    conn.execute(
        update(t)
        .where(t.c.audience == audience, t.c.destination == destination)
        .values(mode=None, session_id=None, batch_seq=0, resume_after="", sent=0, fingerprint=None)
    )


# -- the api source -------------------------------------------------------------------------------

ApiMember = tuple[str, str, set[str]]  # (member_key, canonical text, identifiers)


def _api_keys_for(conn: Connection, audience: str, idents: Iterable[str]) -> set[str]:
    ids, found = list(idents), set[str]()
    for chunk in _chunks(ids):
        found.update(
            conn.execute(
                select(api_idents.c.member_key).where(
                    api_idents.c.audience == audience, api_idents.c.ident.in_(chunk)
                )
            ).scalars()
        )
    return found


def _api_delete(conn: Connection, audience: str, keys: Sequence[str]) -> None:
    for chunk in _chunks(keys):
        conn.execute(
            delete(api_idents).where(api_idents.c.audience == audience, api_idents.c.member_key.in_(chunk))
        )
        conn.execute(
            delete(api_members).where(api_members.c.audience == audience, api_members.c.member_key.in_(chunk))
        )


def api_upsert(engine: Engine, audience: str, items: Sequence[ApiMember], now: float) -> None:
    """Add members; one sharing an identifier with a member already there replaces it (and a later item of
    the same request replaces an earlier one)."""
    latest: dict[str, ApiMember] = {}
    owner: dict[str, str] = {}  # ident -> key of the item holding it
    for item in items:
        for ident in item[2]:
            previous = owner.get(ident)
            if previous is not None and previous != item[0]:
                latest.pop(previous, None)
            owner[ident] = item[0]
        latest[item[0]] = item
    with engine.begin() as conn:
        stale = _api_keys_for(conn, audience, owner)
        _api_delete(conn, audience, sorted(stale | set(latest)))
        rows = [
            {"audience": audience, "member_key": k, "member": t, "updated_at": now}
            for k, t, _ in latest.values()
        ]
        insert_ignore(conn, api_members, rows)
        insert_ignore(
            conn,
            api_idents,
            [
                {"audience": audience, "ident": i, "member_key": k}
                for k, _, ids in latest.values()
                for i in ids
            ],
        )


def api_remove(engine: Engine, audience: str, idents: Iterable[str]) -> int:
    """Remove every api member holding one of ``idents``; returns how many were removed."""
    with engine.begin() as conn:
        keys = _api_keys_for(conn, audience, set(idents))
        _api_delete(conn, audience, sorted(keys))
    return len(keys)


def api_page(engine: Engine, audience: str, after: str, limit: int) -> Page:
    a = api_members
    stmt = (
        select(a.c.member_key, a.c.member)
        .where(a.c.audience == audience, a.c.member_key > after)
        .order_by(a.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


# -- the events source ----------------------------------------------------------------------------

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
    rows = [{"audience": audience, "scope": scope, "ident": i} for i in set(idents)]
    with engine.begin() as conn:
        insert_ignore(conn, scratch, rows)


def scratch_hits(engine: Engine, audience: str, scope: str, idents: Iterable[str]) -> set[str]:
    """Which of ``idents`` were set aside."""
    s, ids, hits = scratch, list(set(idents)), set[str]()
    with engine.connect() as conn:
        for chunk in _chunks(ids):
            hits.update(
                conn.execute(
                    select(s.c.ident).where(
                        s.c.audience == audience, s.c.scope == scope, s.c.ident.in_(chunk)
                    )
                ).scalars()
            )
    return hits


# -- data-subject erasure -------------------------------------------------------------------------


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
                select(e.c.id, e.c.hashed)
                .where(e.c.id > last, _mentions(e.c.hashed, digests))
                .order_by(e.c.id)
                .limit(500)
            ).all()
            if not rows:
                return changed
            last = rows[-1].id
            hit = [row.id for row in rows if matches(dict(row.hashed or {}))]
            if hit:
                conn.execute(
                    update(e)
                    .where(e.c.id.in_(hit))
                    .values(hashed={}, ids={}, ip=None, user_agent=None, pii_purged=True)
                )
                changed += len(hit)


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
            _api_delete(conn, audience, [key])
            found.add(audience)
        p, last = payloads, ("", "")
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
                break
            last = (page[-1].audience, page[-1].member_key)
            for row in page:
                acked = exists().where(state.c.audience == row.audience, state.c.member_key == row.member_key)
                if matches(row.member) and conn.execute(select(acked)).scalar():
                    found.add(row.audience)
        insert_ignore(conn, suppressions_t, [{"ident": d, "created_at": now} for d in sorted(digests)])
    return found


def suppressed(engine: Engine) -> set[str]:
    """Identifiers of every person who asked to be deleted."""
    with engine.connect() as conn:
        return set(conn.execute(select(suppressions_t.c.ident)).scalars())


__all__ = [
    "ALL",
    "DiffCounts",
    "Page",
    "ack_adds",
    "ack_removes",
    "acquire",
    "add_scratch",
    "api_page",
    "api_remove",
    "api_upsert",
    "bind_target",
    "bound_audience_id",
    "clear_progress",
    "clear_staging",
    "diff_counts",
    "erase_events",
    "erase_members",
    "excluded_events",
    "finish",
    "included_events",
    "insert_ignore",
    "page_adds",
    "page_removes",
    "page_staged",
    "release",
    "renew",
    "replace_state",
    "save_progress",
    "scratch_hits",
    "stage",
    "staged_keys",
    "suppressed",
    "sync_rows",
    "target",
]
