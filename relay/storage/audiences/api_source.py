"""Members of api-source audiences: pushed and removed through the admin API, each indexed by its
identifiers so that a member sharing one replaces the member already there.

Every function takes the sync engine and runs in the database thread pool (``Database.run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, delete, select

from relay.storage.audiences.sql import Page, api_idents, api_members, chunks, insert_ignore

ApiMember = tuple[str, str, set[str]]  # (member_key, canonical text, identifiers)


def _api_keys_for(conn: Connection, audience: str, idents: Iterable[str]) -> set[str]:
    ids, found = list(idents), set[str]()
    for chunk in chunks(ids):
        found.update(
            conn.execute(
                select(api_idents.c.member_key).where(
                    api_idents.c.audience == audience, api_idents.c.ident.in_(chunk)
                )
            ).scalars()
        )
    return found


def delete_api_members(conn: Connection, audience: str, keys: Sequence[str]) -> None:
    """Delete the api members with these keys and their identifier index rows, in ``conn``'s transaction."""
    for chunk in chunks(keys):
        conn.execute(
            delete(api_idents).where(api_idents.c.audience == audience, api_idents.c.member_key.in_(chunk))
        )
        conn.execute(
            delete(api_members).where(api_members.c.audience == audience, api_members.c.member_key.in_(chunk))
        )


def _latest(items: Sequence[ApiMember]) -> tuple[dict[str, ApiMember], dict[str, str]]:
    """The items that survive the request (by key) and which key holds each identifier."""
    latest: dict[str, ApiMember] = {}
    owner: dict[str, str] = {}  # ident -> key of the item holding it
    for item in items:
        for ident in item[2]:
            previous = owner.get(ident)
            if previous is not None and previous != item[0]:
                latest.pop(previous, None)
            owner[ident] = item[0]
        latest[item[0]] = item
    return latest, owner


def api_upsert(engine: Engine, audience: str, items: Sequence[ApiMember], now: float) -> None:
    """Add members; one sharing an identifier with a member already there replaces it (and a later item of
    the same request replaces an earlier one)."""
    latest, owner = _latest(items)
    with engine.begin() as conn:
        stale = _api_keys_for(conn, audience, owner)
        delete_api_members(conn, audience, sorted(stale | set(latest)))
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
        delete_api_members(conn, audience, sorted(keys))
    return len(keys)


def api_page(engine: Engine, audience: str, after: str, limit: int) -> Page:
    """The next api members in key order after ``after``."""
    a = api_members
    stmt = (
        select(a.c.member_key, a.c.member)
        .where(a.c.audience == audience, a.c.member_key > after)
        .order_by(a.c.member_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(stmt)]


__all__ = ["ApiMember", "api_page", "api_remove", "api_upsert", "delete_api_members"]
