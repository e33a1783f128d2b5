"""Audience sources on real databases: an events rule over stored events (consent per destination), a SQL
query against SQLite and PostgreSQL, members pushed through the API, and data-subject erasure."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from relay.audiences import SyncOptions, sync_audience
from relay.audiences.api import erase_person
from relay.audiences.members import encode, idents
from relay.normalize import hash_user, member_from_row
from relay.storage import audiences as store
from relay.storage import outbox
from relay.storage.outbox import NewDelivery, NewEvent
from relay.types import AudienceMember
from tests.integration.test_audience_sync import (
    META_AUDIENCE,
    X_AUDIENCE,
    World,
    csv_audience,
    emails,
    meta_emails,
    people,
    result,
    sha,
    world,
    write_csv,
    x_emails,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
__all__ = ["world"]  # the fixture, shared with test_audience_sync
FAST = SyncOptions(attempts=1)
DESTINATIONS = {"meta": {"audience_id": META_AUDIENCE}, "x": {"audience_id": X_AUDIENCE}}


def event(
    name: str,
    user: dict[str, Any],
    *,
    meta: str = "allow",
    x: str = "allow",
    age: float = 60,
    mode: str | None = None,
    ids: dict[str, str] | None = None,
) -> NewEvent:
    now = time.time()
    return NewEvent(
        event_id=f"{name}-{sorted(user.items())}-{now}-{age}-{meta}{x}",
        event_name=name,
        event_time=int(now - age),
        received_at=now - age,
        action_source="website",
        source="events",
        hashed=hash_user(user).hashed,
        ids=ids or {},
        deliveries=[
            NewDelivery("meta", "pending" if meta != "deny" else "skipped", meta, "test", mode),
            NewDelivery("x", "pending" if x != "deny" else "skipped", x, "test"),
        ],
    )


def email(person: str) -> dict[str, str]:
    return {"email": f"{person}@example.com"}


def rule(**source: Any) -> dict[str, Any]:
    return {"browsed": {"source": {"type": "events", **source}, "destinations": DESTINATIONS}}


async def test_events_rule_per_destination_consent_window_and_exclusion(world: World) -> None:
    audiences = rule(include=["ViewContent", "AddToCart"], exclude=["Purchase"], window="7d")
    async with world.env(audiences) as env:
        outbox.store_events(
            env.db.engine,
            [
                event("ViewContent", email("ann")),
                event("AddToCart", {**email("ann"), "phone": "+1 650 555 0101"}),  # the same person, merged
                event("AddToCart", email("bob")),
                event("Purchase", email("bob"), x="deny"),  # bought: out, whatever that event's consent
                event("ViewContent", email("cy"), x="deny"),  # X may not use cy's data
                event(
                    "ViewContent", email("dee"), meta="limited", mode="strip"
                ),  # sent to Meta without contact details
                event("ViewContent", email("eve"), age=8 * 86400),  # before the window
                event("PageView", email("fay")),  # not a rule event
                event("ViewContent", {}, ids={"madid": "AB12-CD34-0000-0000-000000000001"}),  # a device only
            ],
            time.time(),
        )
        run = await sync_audience(env, "browsed", FAST)
        assert run.status == "ok"
        assert meta_emails(world.meta) == {sha("ann@example.com"), sha("cy@example.com")}
        assert x_emails(world.x) == {sha("ann@example.com"), sha("dee@example.com")}
        [ann] = [
            row for row in world.meta.audiences[META_AUDIENCE] if ("EMAIL", sha("ann@example.com")) in row
        ]
        assert ("PHONE", sha("16505550101")) in ann
        madids = {v for row in world.meta.audiences[META_AUDIENCE] for k, v in row if k == "MADID"}
        assert madids == {"ab12-cd34-0000-0000-000000000001"}
        assert run.sources["meta"].excluded == 1 and run.sources["x"].excluded == 1

        outbox.store_events(env.db.engine, [event("Purchase", email("ann"))], time.time())
        run = await sync_audience(env, "browsed", FAST)
        assert (result(run, "meta").removed, result(run, "x").removed) == (1, 1)
        assert meta_emails(world.meta) == {sha("cy@example.com")}
        assert x_emails(world.x) == {sha("dee@example.com")}


def _crm_url(db_url: str, tmp: Path) -> str:
    """The source database: a SQLite file of its own, or a table in the PostgreSQL test database."""
    if db_url.startswith("sqlite"):
        path = tmp / "crm.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE crm (mail TEXT, phone TEXT, fname TEXT, birthday TEXT, notes TEXT)")
        return f"sqlite:///{path}"
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE crm (mail TEXT, phone TEXT, fname TEXT, birthday DATE, notes TEXT)"))
    engine.dispose()
    return db_url


def _insert(url: str, rows: list[tuple[Any, ...]]) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM crm"))
        for row in rows:
            values = dict(zip(("m", "p", "f", "b", "n"), row, strict=True))
            conn.execute(text("INSERT INTO crm VALUES (:m, :p, :f, :b, :n)"), values)
    engine.dispose()


async def test_sql_source(world: World, db_url: str) -> None:
    url = _crm_url(db_url, world.tmp)
    _insert(
        url,
        [
            ("person1@example.com", "+1 650 555 0101", "Ann", "1990-02-16", "vip"),
            ("person2@example.com", None, None, None, None),
            (None, None, "Nobody", None, None),  # a first name alone is not enough
        ],
    )
    query = "SELECT mail AS email, phone, fname AS first_name, birthday AS date_of_birth, notes FROM crm"
    audiences = {"crm": {"source": {"type": "sql", "url": url, "query": query}, "destinations": DESTINATIONS}}
    async with world.env(audiences) as env:
        run = await sync_audience(env, "crm", FAST)
        assert run.status == "ok"
        stats = run.sources["*"]
        assert (stats.read, stats.members, sum(stats.invalid.values())) == (3, 2, 1)
        assert stats.unknown_columns == ("notes",)
        assert meta_emails(world.meta) == x_emails(world.x) == emails(1, 2)
        [ann] = [
            row for row in world.meta.audiences[META_AUDIENCE] if ("EMAIL", sha("person1@example.com")) in row
        ]
        assert {("DOBY", sha("1990")), ("FN", sha("ann")), ("PHONE", sha("16505550101"))} <= set(ann)

        _insert(url, [("person2@example.com", None, None, None, None)])
        run = await sync_audience(env, "crm", FAST)
        assert meta_emails(world.meta) == x_emails(world.x) == emails(2)

        broken = {
            "crm": {**audiences["crm"], "source": {"type": "sql", "url": url, "query": "SELECT * FROM nope"}}
        }
    async with world.env(broken) as env:
        run = await sync_audience(env, "crm", FAST)
        assert run.status == "failed" and "sql source failed" in (run.error or "")
        assert meta_emails(world.meta) == emails(2)  # a failed source never empties the audience


def api_member(user: dict[str, Any]) -> store.ApiMember:
    member, _ = member_from_row(user)
    assert member is not None
    encoded = encode(member)
    return encoded.key, encoded.text, idents(member)


async def test_api_members_update_by_identifier_and_sync(world: World) -> None:
    audiences = {"pushed": {"source": {"type": "api"}, "destinations": DESTINATIONS}}
    async with world.env(audiences) as env:
        engine, now = env.db.engine, time.time()
        store.api_upsert(
            engine,
            "pushed",
            [api_member({**email("ann"), "first_name": "Ann"}), api_member(email("bob"))],
            now,
        )
        store.api_upsert(
            engine, "pushed", [api_member({**email("ann"), "first_name": "Anna"})], now
        )  # replaces ann
        assert len(store.api_page(engine, "pushed", "", 10)) == 2
        run = await sync_audience(env, "pushed", FAST)
        assert run.status == "ok" and meta_emails(world.meta) == {
            sha("ann@example.com"),
            sha("bob@example.com"),
        }
        names = {v for row in world.meta.audiences[META_AUDIENCE] for k, v in row if k == "FN"}
        assert names == {sha("anna")}
        assert store.api_remove(engine, "pushed", {sha("bob@example.com")}) == 1
        await sync_audience(env, "pushed", FAST)
        assert meta_emails(world.meta) == x_emails(world.x) == {sha("ann@example.com")}


async def test_erasure_strips_events_and_removes_the_person_everywhere(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", [*people(1, 2), {"email": "jane@example.com"}])
    audiences = {
        **csv_audience(source),
        "pushed": {"source": {"type": "api"}, "destinations": {"meta": {"audience_id": "777"}}},
    }
    jane = {"email": "Jane@Example.com", "phone": "+1 650 555 1212", "external_id": "Cust-42"}
    async with world.env(audiences) as env:
        engine = env.db.engine
        outbox.store_events(
            engine,
            [
                event(
                    "Purchase", {"email": "jane@example.com", "first_name": "Jane"}, ids={"fbp": "fb.1.1.1"}
                ),
                event("Purchase", {"phone": "(650) 555-1212", "country": "US"}),  # her phone, another event
                event("Purchase", {"external_id": " cust-42 "}),
                event("Purchase", email("person1")),
            ],
            time.time(),
        )
        store.api_upsert(
            engine, "pushed", [api_member(email("jane")), api_member(email("person1"))], time.time()
        )
        for name in ("customers", "pushed"):
            assert (await sync_audience(env, name, FAST)).status == "ok"
        assert sha("jane@example.com") in meta_emails(world.meta)

        changed, found = await erase_person(env.db, jane, "US")
        assert changed == 3 and found == {"customers", "pushed"}
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT hashed, ids, pii_purged FROM events ORDER BY id")).all()
        assert [bool(r.pii_purged) for r in rows] == [True, True, True, False]
        assert all(r.hashed in ({}, "{}") and r.ids in ({}, "{}") for r in rows[:3])
        assert sha("person1@example.com") in str(rows[3].hashed)

        customers = await sync_audience(env, "customers", FAST)  # the CSV still lists her: suppressed
        assert customers.sources["*"].suppressed == 1
        assert (result(customers, "meta").removed, result(customers, "x").removed) == (1, 1)
        assert sha("jane@example.com") not in meta_emails(world.meta) | x_emails(world.x)
        assert meta_emails(world.meta) == emails(1, 2)
        await sync_audience(env, "pushed", FAST)
        pushed = {v for row in world.meta.audiences["777"] for k, v in row if k == "EMAIL"}
        assert pushed == emails(1)
        again, found = await erase_person(env.db, jane, "US")
        assert (again, found) == (0, set())
        with pytest.raises(ValueError):
            await erase_person(env.db, {"email": "not an email"}, None)


def test_members_are_keyed_by_their_identifiers() -> None:
    a = AudienceMember({"em": [sha("a")], "fn": [sha("x")]})
    b = AudienceMember({"fn": [sha("x")], "em": [sha("a")]})
    assert encode(a) == encode(b)
    assert encode(a).key != encode(AudienceMember({"em": [sha("a")]})).key
    assert idents(AudienceMember({"em": [sha("a")], "fn": [sha("x")]}, madid="m-1")) == {
        sha("a"),
        "madid:m-1",
    }
