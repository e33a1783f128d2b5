"""The audience diff engine on real databases (SQLite file and PostgreSQL) against the fake Meta and X APIs
served over loopback HTTP, which keep membership state."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import BaseConnector
from connectors.x import XConnector
from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.audiences.results import AudienceRun
from relay.config import parse_settings
from relay.metrics import Metrics
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.sandbox.x import SANDBOX_OAUTH, FakeX
from relay.settings import ConnectorSettings, Settings
from relay.state import build_connectors
from relay.storage import audiences as store
from relay.storage.db import Database
from relay.testing import serve
from relay.types import AudienceBatchResult, AudienceMember

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TOKEN = "meta-audience-token"
META_AUDIENCE, X_AUDIENCE = "23840000000000001", "2906h"
FAST = SyncOptions(attempts=1)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def write_csv(
    path: Path, rows: Iterable[dict[str, str]], header: Iterable[str] = ("email", "first_name")
) -> Path:
    columns = list(header)
    with path.open("w", newline="") as handle:
        out = csv.DictWriter(handle, columns)
        out.writeheader()
        for row in rows:
            out.writerow({k: row.get(k, "") for k in columns})
    return path


def people(*numbers: int, name: str = "Jane") -> list[dict[str, str]]:
    return [{"email": f"person{n}@example.com", "first_name": name} for n in numbers]


def emails(*numbers: int) -> set[str]:
    return {sha(f"person{n}@example.com") for n in numbers}


def meta_emails(fake: FakeMeta) -> set[str]:
    return {v for row in fake.audiences.get(META_AUDIENCE, set()) for k, v in row if k == "EMAIL"}


def x_emails(fake: FakeX) -> set[str]:
    return {v for member in fake.members(X_AUDIENCE) for k, v in member if k == "email"}


def audience_requests(fake: Any) -> list[Any]:
    return [r for r in fake.requests if "/users" in r.path or "usersreplace" in r.path]


@dataclass
class World:
    """The fakes on loopback and a database; :meth:`env` builds a relay's sync parts over them."""

    meta: FakeMeta
    x: FakeX
    meta_base: str
    x_base: str
    db_url: str
    tmp: Path

    def settings(self, audiences: dict[str, Any]) -> Settings:
        oauth = dict(
            zip(
                ("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
                SANDBOX_OAUTH,
                strict=True,
            )
        )
        return parse_settings(
            {
                "server": {"default_country": "US"},
                "storage": {"url": self.db_url},
                "connectors": {
                    "meta": {
                        "type": "meta",
                        "pixel_id": "1234",
                        "access_token": TOKEN,
                        "api_base": self.meta_base,
                    },
                    "x": {
                        "type": "x",
                        "pixel_id": "o8z6j",
                        "ads_account_id": "18ce54d4x5t",
                        "api_base": self.x_base,
                        **oauth,
                    },
                },
                "audiences": audiences,
            }
        )

    @contextlib.asynccontextmanager
    async def env(self, audiences: dict[str, Any]) -> AsyncIterator[SyncEnv]:
        settings = self.settings(audiences)
        db = Database(settings.storage.url)
        db.migrate()
        async with httpx.AsyncClient(timeout=5) as client:
            try:
                yield SyncEnv(settings, db, build_connectors(settings, client), Metrics())
            finally:
                db.close()


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    meta = FakeMeta(access_token=TOKEN)
    x = FakeX(
        consumer_key=SANDBOX_OAUTH[0],
        consumer_secret=SANDBOX_OAUTH[1],
        access_token=SANDBOX_OAUTH[2],
        access_token_secret=SANDBOX_OAUTH[3],
    )
    async with serve(meta.app) as meta_base, serve(x.app) as x_base:
        yield World(meta, x, meta_base, x_base, db_url, tmp_path)


def csv_audience(path: Path, *destinations: str) -> dict[str, Any]:
    ids = {"meta": META_AUDIENCE, "x": X_AUDIENCE}
    return {
        "customers": {
            "source": {"type": "csv", "path": str(path)},
            "destinations": {d: {"audience_id": ids[d]} for d in destinations or ("meta", "x")},
        }
    }


def result(run: AudienceRun, destination: str) -> Any:
    return next(d for d in run.destinations if d.destination == destination)


async def test_first_sync_then_exactly_the_difference(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3, 4, 5))
    async with world.env(csv_audience(source)) as env:
        run = await sync_audience(env, "customers", FAST)
        assert run.status == "ok"
        assert meta_emails(world.meta) == x_emails(world.x) == emails(1, 2, 3, 4, 5)
        assert (result(run, "meta").added, result(run, "x").added) == (5, 5)

        # person 1 leaves, 6 and 7 join, person 2 changes name: a new member, so the old row goes first
        write_csv(source, [*people(3, 4, 5), *people(2, name="Jo"), *people(6, 7)])
        world.meta.requests.clear()
        world.x.requests.clear()
        run = await sync_audience(env, "customers", FAST)
        sent = [(r.method, len(r.json["payload"]["data"])) for r in audience_requests(world.meta)]
        assert sent == [("DELETE", 2), ("POST", 3)]
        ops = [op["operation_type"] for r in audience_requests(world.x) for op in r.json]
        assert sorted(ops) == ["Delete", "Delete", "Update", "Update", "Update"] and ops[0] == "Delete"
        assert meta_emails(world.meta) == x_emails(world.x) == emails(2, 3, 4, 5, 6, 7)
        names = {v for row in world.meta.audiences[META_AUDIENCE] for k, v in row if k == "FN"}
        assert names == {sha("jane"), sha("jo")}
        meta = result(run, "meta")
        assert (meta.to_add, meta.to_remove, meta.unchanged, meta.added, meta.removed) == (3, 2, 3, 3, 2)

        world.meta.requests.clear()
        world.x.requests.clear()
        run = await sync_audience(env, "customers", FAST)
        assert run.status == "ok" and not audience_requests(world.meta) and not audience_requests(world.x)


async def test_full_sync_replaces_meta_and_removes_what_left_x(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3))
    async with world.env(csv_audience(source)) as env:
        await sync_audience(env, "customers", FAST)
        stray = (("EMAIL", sha("stranger@example.com")),)
        world.meta.audiences[META_AUDIENCE].add(stray)  # added on the platform behind the relay's back
        write_csv(source, people(2, 3, 4))
        world.meta.requests.clear()
        world.x.requests.clear()
        run = await sync_audience(env, "customers", SyncOptions(attempts=1, full=True, batch_size=2))
        assert run.status == "ok"
        sessions = [r.json["session"] for r in audience_requests(world.meta)]
        assert [s["batch_seq"] for s in sessions] == [1, 2]
        assert [s["last_batch_flag"] for s in sessions] == [False, True]
        assert len({s["session_id"] for s in sessions}) == 1 and sessions[0]["estimated_num_total"] == 3
        assert meta_emails(world.meta) == emails(2, 3, 4)  # the replace dropped the stray row too
        assert x_emails(world.x) == emails(2, 3, 4)
        ops = [op["operation_type"] for r in audience_requests(world.x) for op in r.json]
        assert ops == ["Delete", "Update", "Update", "Update"]
        meta, x = result(run, "meta"), result(run, "x")
        assert (meta.mode, meta.added, meta.removed, meta.sent) == ("replace", 1, 1, 3)
        assert (x.mode, x.added, x.removed, x.sent) == ("full", 1, 1, 4)
        again = await sync_audience(env, "customers", FAST)
        assert (result(again, "meta").to_add, result(again, "meta").to_remove) == (0, 0)


def fail(times: int = 1) -> list[ScriptedResponse]:
    body = {"error": {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}}
    return [ScriptedResponse(status=500, body=body) for _ in range(times)]


async def test_crash_mid_sync_resumes_with_only_the_remaining_batches(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(*range(1, 10)))
    small = SyncOptions(attempts=1, batch_size=2)
    async with world.env(csv_audience(source, "meta")) as env:
        world.meta.script(ScriptedResponse(passthrough=True), ScriptedResponse(passthrough=True), *fail())
        first = await sync_audience(env, "customers", small)
        assert first.status == "failed" and "meta" in (first.error or "")
        assert len(meta_emails(world.meta)) == 4  # two batches of two were acknowledged
        assert result(first, "meta").added == 4
        world.meta.requests.clear()
        second = await sync_audience(env, "customers", small)
        assert second.status == "ok"
        sent = [len(r.json["payload"]["data"]) for r in audience_requests(world.meta)]
        assert sent == [2, 2, 1]  # the failed batch and the two after it, nothing acknowledged again
        assert meta_emails(world.meta) == emails(*range(1, 10))
        assert result(second, "meta").added == 5


async def test_a_replace_session_resumes_where_it_failed(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(*range(1, 8)))
    small = SyncOptions(attempts=1, batch_size=2, full=True)
    async with world.env(csv_audience(source, "meta")) as env:
        world.meta.script(ScriptedResponse(passthrough=True), *fail())
        first = await sync_audience(env, "customers", small)
        assert first.status == "failed" and META_AUDIENCE not in world.meta.audiences
        world.meta.requests.clear()
        second = await sync_audience(env, "customers", small)
        assert second.status == "ok"
        sessions = [r.json["session"] for r in audience_requests(world.meta)]
        assert [s["batch_seq"] for s in sessions] == [2, 3, 4]
        assert sessions[-1]["last_batch_flag"] is True
        assert meta_emails(world.meta) == emails(*range(1, 8))


async def test_bad_rows_are_counted_and_never_fail_their_batch(world: World) -> None:
    rows = [
        {"email": "person1@example.com"},
        {"email": "not an email"},
        {"first_name": "Ana", "last_name": "Lima"},  # Meta takes first + last name; X has no key for them
        {"phone": "+1 650 555 0101", "loyalty": "gold"},
        {},
        {"email": "person2@example.com", "phone": "12"},  # a bad phone alone drops only the phone
    ]
    header = ("email", "phone", "first_name", "last_name", "loyalty")
    source = write_csv(world.tmp / "c.csv", rows, header)
    async with world.env(csv_audience(source)) as env:
        run = await sync_audience(env, "customers", FAST)
        assert run.status == "ok"
        stats = run.sources["*"]
        assert (stats.read, stats.members, sum(stats.invalid.values())) == (6, 4, 2)
        assert stats.unknown_columns == ("loyalty",)
        assert any("email: not an email address" in reason for reason in stats.invalid)
        assert meta_emails(world.meta) == emails(1, 2)
        assert len(world.meta.audiences[META_AUDIENCE]) == 4
        x = result(run, "x")
        assert (x.sent, x.platform_invalid, x.status) == (4, 1, "ok")
        assert x_emails(world.x) == emails(1, 2) and len(world.x.members(X_AUDIENCE)) == 3
        assert any("no identifier X audiences accept" in m for m in x.samples.values())
        world.x.requests.clear()
        again = await sync_audience(env, "customers", FAST)
        assert result(again, "x").to_add == 0 and not audience_requests(world.x)  # not resent every run


async def test_one_run_at_a_time(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1))
    async with world.env(csv_audience(source, "meta")) as env:
        engine = env.db.engine
        assert store.acquire(engine, "customers", "other-worker", env.clock(), 60, record=True)
        busy = await sync_audience(env, "customers", FAST)
        assert busy.status == "busy" and not audience_requests(world.meta)
        assert store.acquire(engine, "customers", "other-worker", env.clock() + 61, 60, record=True) is True
        assert not store.renew(engine, "customers", "someone-else", env.clock(), 60)
        store.release(engine, "customers", "other-worker", env.clock())
        done = await sync_audience(env, "customers", FAST)
        assert done.status == "ok" and meta_emails(world.meta) == emails(1)
        write_csv(source, people(1, 2))
        world.meta.script(ScriptedResponse(delay=0.5, passthrough=True))  # the first run holds the lock
        runs = await asyncio.gather(*(sync_audience(env, "customers", FAST) for _ in range(3)))
        assert sorted(r.status for r in runs) == ["busy", "busy", "ok"]
        assert meta_emails(world.meta) == emails(1, 2)
        assert store.sync_rows(engine)["customers"]["owner"] is None


async def test_a_new_platform_audience_id_starts_from_an_empty_state(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2))
    async with world.env(csv_audience(source, "meta")) as env:
        await sync_audience(env, "customers", FAST)
    moved = csv_audience(source, "meta")
    moved["customers"]["destinations"]["meta"]["audience_id"] = "999"
    async with world.env(moved) as env:
        dry = await sync_audience(env, "customers", SyncOptions(dry_run=True))
        assert (result(dry, "meta").to_add, result(dry, "meta").to_remove, dry.status) == (2, 0, "dry-run")
        assert "999" not in world.meta.audiences
        run = await sync_audience(env, "customers", FAST)
        assert result(run, "meta").added == 2
        assert {v for row in world.meta.audiences["999"] for k, v in row if k == "EMAIL"} == emails(1, 2)


async def test_a_run_that_lost_its_lock_stops_and_leaves_the_new_owner_alone(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3))
    async with world.env(csv_audience(source, "meta")) as env:
        world.meta.script(ScriptedResponse(delay=0.4, passthrough=True))
        options = SyncOptions(attempts=1, batch_size=1, lease_seconds=0.2)
        task = asyncio.create_task(sync_audience(env, "customers", options))
        while not audience_requests(world.meta):
            await asyncio.sleep(0.01)
        with env.db.engine.begin() as conn:  # another worker took the lock over (our lease had expired)
            conn.execute(store.syncs.update().values(owner="thief", lease_until=env.clock() + 60))
        run = await task
        assert run.status == "failed" and "took this audience's sync over" in (run.error or "")
        assert len(audience_requests(world.meta)) == 1
        row = store.sync_rows(env.db.engine)["customers"]
        assert row["owner"] == "thief" and row["status"] == "running"
        assert len(store.staged_keys(env.db.engine, "customers", store.ALL, "", 10)) == 3  # not ours to clear


async def test_a_destination_that_cannot_sync_fails_alone(world: World) -> None:
    """A conversions-only connector and a disabled one fail their own destinations; the others sync."""
    source = write_csv(world.tmp / "c.csv", people(1, 2))
    async with world.env(csv_audience(source)) as env:
        meta, x = env.connectors["meta"], env.connectors["x"]
        plain = BaseConnector("x", ConnectorSettings(type="plain", api_base=world.x_base), x.client)
        run = await sync_audience(
            dataclasses.replace(env, connectors={"meta": meta, "x": plain}), "customers", FAST
        )
        assert result(run, "meta").status == "ok" and meta_emails(world.meta) == emails(1, 2)
        assert result(run, "x").status == "failed" and "cannot sync custom audiences" in str(
            result(run, "x").error
        )

        disabled = XConnector("x", x.settings.model_copy(update={"enabled": False}), x.client)
        run = await sync_audience(
            dataclasses.replace(env, connectors={"meta": meta, "x": disabled}), "customers", FAST
        )
        assert result(run, "x").status == "failed" and "disabled" in str(result(run, "x").error)
        assert not x_emails(world.x) and not audience_requests(world.x)


class FussyX(XConnector):
    """A plugin with a bug for one person: it raises on any batch that holds them, add or remove."""

    fussy = sha("person3@example.com")

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        if any(self.fussy in m.hashed.get("em", ()) for m in members):
            raise KeyError("a plugin bug")
        return await super().audience_members(audience_id, members, add=add)


async def test_a_member_the_connector_raises_on_fails_alone_and_is_tried_again(world: World) -> None:
    """The batch's other members reach X and are acknowledged; the one the plugin raises on is counted as
    a connector bug and left unacknowledged, so the fixed plugin adds (or removes) it on the next run."""
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3, 4, 5))
    async with world.env(csv_audience(source)) as env:
        meta, x = env.connectors["meta"], env.connectors["x"]
        fussy = dataclasses.replace(env, connectors={"meta": meta, "x": FussyX("x", x.settings, x.client)})
        run = await sync_audience(fussy, "customers", SyncOptions(attempts=1, batch_size=4))
        done = result(run, "x")
        assert (run.status, done.status, done.added, done.platform_invalid) == ("ok", "ok", 4, 1)
        assert any(v.startswith("connector bug: KeyError at") for v in done.samples.values())
        assert x_emails(world.x) == emails(1, 2, 4, 5) and meta_emails(world.meta) == emails(1, 2, 3, 4, 5)

        again = await sync_audience(env, "customers", FAST)  # the plugin fixed
        assert (result(again, "x").to_add, result(again, "x").added) == (1, 1)
        assert x_emails(world.x) == emails(1, 2, 3, 4, 5)

        write_csv(source, people(1, 2))  # 3, 4 and 5 leave; the bug keeps 3 on X for one run
        run = await sync_audience(fussy, "customers", FAST)
        assert (result(run, "x").status, result(run, "x").removed) == ("ok", 2)
        assert x_emails(world.x) == emails(1, 2, 3)
        again = await sync_audience(env, "customers", FAST)
        assert (result(again, "x").to_remove, result(again, "x").removed) == (1, 1)
        assert x_emails(world.x) == emails(1, 2)


class MiscountingX(XConnector):
    """A plugin whose answers a sync cannot count as they are: the members reach X, the tallies do not."""

    answers: Sequence[Any] = (
        AudienceBatchResult("2", -5, ["a list"], [7, "0", -1]),  # type: ignore[arg-type]
        None,
    )

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        await super().audience_members(audience_id, members, add=add)
        answer, *rest = self.answers
        self.answers = [*rest, answer]
        return answer  # type: ignore[no-any-return]


async def test_an_answer_a_sync_cannot_count_is_mended_for_its_batch_alone(world: World) -> None:
    """Sent and acknowledged, so never sent again; not a failed destination sending it on every run."""
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3, 4))
    async with world.env(csv_audience(source)) as env:
        meta, x = env.connectors["meta"], env.connectors["x"]
        plugin = MiscountingX("x", x.settings, x.client)
        env = dataclasses.replace(env, connectors={"meta": meta, "x": plugin})
        run = await sync_audience(env, "customers", SyncOptions(attempts=1, batch_size=2))
        done = result(run, "x")
        assert (run.status, done.status, done.added, done.platform_invalid) == ("ok", "ok", 4, 0)
        assert "not an AudienceBatchResult" in done.samples["connector bug"]
        assert x_emails(world.x) == emails(1, 2, 3, 4) and meta_emails(world.meta) == emails(1, 2, 3, 4)
        world.x.requests.clear()
        again = await sync_audience(env, "customers", FAST)
        assert result(again, "x").to_add == 0 and not audience_requests(world.x)
