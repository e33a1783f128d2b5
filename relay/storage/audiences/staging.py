"""Staging: the members a source holds now, written before a sync diffs them against a destination's
acknowledged state; the diff is read back as keyset pages.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, exists, func, select

from relay.storage.audiences.sql import Page, insert_ignore, payloads, scratch, staging, state

#: the staging scope of sources that are the same for every destination
ALL = "*"


def clear_staging(engine: Engine, audience: str, scope: str) -> None:
    """Forget what a previous run staged (and set aside) in ``scope``."""
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
    """Count the staged members, the destination's acknowledged ones and the adds between them."""
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


def _page(
    engine: Engine, table: Table, audience: str, conditions: Sequence[Any], after: str, limit: int
) -> Page:
    """``(member key, canonical text)`` of ``audience``'s rows of ``table`` matching ``conditions``, in key
    order after ``after``: one keyset page."""
    key = table.c.member_key
    stmt = (
        _with_payload(key, audience)
        .where(table.c.audience == audience, *conditions, key > after)
        .order_by(key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


def page_adds(engine: Engine, audience: str, scope: str, destination: str, after: str, limit: int) -> Page:
    """The next staged members the destination has not acknowledged, in key order after ``after``."""
    conditions = (staging.c.scope == scope, _not_acknowledged(audience, destination, staging.c.member_key))
    return _page(engine, staging, audience, conditions, after, limit)


def page_removes(engine: Engine, audience: str, scope: str, destination: str, after: str, limit: int) -> Page:
    """The next acknowledged members the source no longer holds."""
    conditions = (state.c.destination == destination, _not_staged(audience, scope, state.c.member_key))
    return _page(engine, state, audience, conditions, after, limit)


def page_staged(engine: Engine, audience: str, scope: str, after: str, limit: int) -> Page:
    """The next staged members, acknowledged or not (full syncs)."""
    return _page(engine, staging, audience, (staging.c.scope == scope,), after, limit)


def staged_keys(engine: Engine, audience: str, scope: str, after: str, limit: int) -> list[str]:
    """The next staged member keys, without their payloads."""
    st = staging
    stmt = (
        select(st.c.member_key)
        .where(st.c.audience == audience, st.c.scope == scope, st.c.member_key > after)
        .order_by(st.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


__all__ = [
    "ALL",
    "DiffCounts",
    "clear_staging",
    "diff_counts",
    "page_adds",
    "page_removes",
    "page_staged",
    "stage",
    "staged_keys",
]
