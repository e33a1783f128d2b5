"""The run history of audiences on real databases (SQLite file and PostgreSQL): real syncs against the fake
Meta and X APIs over loopback record one row per run with the right counts across adds, removes, an
unchanged run, a failing destination and an unreadable source; started by code, the CLI or the scheduler."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.meta import MetaConnector
from relay.audiences import AudienceScheduler, SyncOptions, sync_audience
from relay.audiences.command import sync_command
from relay.audiences.history import SizedAudienceConnector
from relay.exceptions import RetryableDeliveryError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.sandbox.x import SANDBOX_OAUTH, FakeX
from relay.storage import audiences as store
from relay.testing import serve
from tests.integration.test_audience_sync import (
    META_AUDIENCE,
    TOKEN,
    World,
    csv_audience,
    emails,
    meta_emails,
    people,
    write_csv,
    x_emails,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

FAST = SyncOptions(attempts=1)


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    meta = FakeMeta(access_token=TOKEN)
    keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    x = FakeX(**dict(zip(keys, SANDBOX_OAUTH, strict=True)))
    async with serve(meta.app) as meta_base, serve(x.app) as x_base:
        yield World(meta, x, meta_base, x_base, db_url, tmp_path)


def history(env: Any, limit: int = 50) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = store.runs_page(env.db.engine, "customers", None, limit)["items"]
    return items


def counts(run: dict[str, Any], destination: str | None = None) -> tuple[Any, ...]:
    row = run if destination is None else run["destinations"][destination]
    return row["status"], row["members"], row["added"], row["removed"], row["failed"]


async def test_each_run_is_recorded_with_its_counts(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3, 4, 5))
    async with world.env(csv_audience(source)) as env:
        assert (await sync_audience(env, "customers", FAST)).status == "ok"  # 5 added
        write_csv(source, people(3, 4, 5, 6))
        assert (await sync_audience(env, "customers", FAST)).status == "ok"  # 1 added, 2 removed
        assert (await sync_audience(env, "customers", FAST)).status == "ok"  # unchanged
        write_csv(source, people(3, 4, 5, 6, 7, 8))
        down = {"error": {"message": f"Service unavailable for token {TOKEN}", "code": 2}}
        world.meta.script(ScriptedResponse(status=500, body=down))
        partial = await sync_audience(env, "customers", FAST)  # Meta fails, X takes the 2 new members
        assert partial.status == "partial"
        source.unlink()
        assert (await sync_audience(env, "customers", FAST)).status == "failed"  # no source: nothing sent

        newest, partly, unchanged, changed, first = history(env)
        assert [r["trigger"] for r in (newest, partly, unchanged, changed, first)] == ["api"] * 5
        assert counts(first) == ("ok", 5, 10, 0, 0)  # totals sum the two destinations
        assert counts(first, "meta") == counts(first, "x") == ("ok", 5, 5, 0, 0)
        assert first["destinations"]["meta"]["size"] == 5 and first["connectors"] == ["meta", "x"]
        assert counts(changed, "meta") == ("ok", 4, 1, 2, 0) and changed["destinations"]["x"]["size"] == 4
        assert counts(unchanged) == ("ok", 4, 0, 0, 0)
        assert unchanged["destinations"]["meta"]["unchanged"] == 4
        assert counts(partly) == ("partial", 6, 2, 0, 2)
        assert counts(partly, "meta") == ("failed", 6, 0, 0, 2) and counts(partly, "x") == ("ok", 6, 2, 0, 0)
        assert partly["destinations"]["meta"]["size"] == 4 and partly["destinations"]["x"]["size"] == 6
        assert "meta:" in partly["error"] and TOKEN not in partly["error"]
        assert TOKEN not in str(partly["destinations"])
        assert (newest["status"], newest["members"], newest["added"], newest["destinations"]) == (
            "failed",
            None,
            0,
            {},
        )
        assert "c.csv" in newest["error"]
        assert all(r["started_at"] <= r["finished_at"] for r in (newest, partly, first))
        assert first["finished_at"] <= changed["started_at"]
        assert meta_emails(world.meta) == emails(3, 4, 5, 6) and x_emails(world.x) == emails(3, 4, 5, 6, 7, 8)


async def test_dry_and_busy_runs_are_not_recorded(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1))
    async with world.env(csv_audience(source, "meta")) as env:
        assert (await sync_audience(env, "customers", SyncOptions(dry_run=True))).status == "dry-run"
        assert store.acquire(env.db.engine, "customers", "other-worker", env.clock(), 60, record=True)
        assert (await sync_audience(env, "customers", FAST)).status == "busy"
        assert history(env) == []


async def test_pages_are_newest_first_and_old_runs_are_pruned(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1))
    async with world.env(csv_audience(source, "meta")) as env:
        for _ in range(3):
            await sync_audience(env, "customers", FAST)
        engine = env.db.engine
        page = store.runs_page(engine, "customers", None, 2)
        ids = [r["id"] for r in page["items"]]
        assert ids == sorted(ids, reverse=True) and page["next_before"] == ids[-1]
        rest = store.runs_page(engine, "customers", page["next_before"], 2)
        assert len(rest["items"]) == 1 and rest["next_before"] is None and rest["items"][0]["id"] < ids[-1]
        assert store.runs_page(engine, "other", None, 10) == {"items": [], "next_before": None}
        row = {**{k: v for k, v in history(env)[0].items() if k in ROW_KEYS}, "audience": "customers"}
        for _ in range(4):
            store.record_run(engine, row, keep=3)
        kept = history(env)
        assert len(kept) == 3 and kept[0]["id"] > ids[0]  # the newest three of seven
        store.record_run(engine, {**row, "audience": "other"}, keep=3)
        assert len(history(env)) == 3  # one audience's pruning leaves the others alone


ROW_KEYS = (
    "trigger",
    "status",
    "started_at",
    "finished_at",
    "members",
    "added",
    "removed",
    "failed",
    "error",
    "destinations",
)


async def test_the_cli_and_the_scheduler_record_their_trigger(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2))
    audiences = csv_audience(source, "meta")
    async with world.env(audiences) as env:
        said: list[str] = []
        code = await asyncio.to_thread(
            sync_command, env.settings, ["customers"], say=said.append, stream=io.StringIO()
        )
        assert code == 0 and history(env)[0]["trigger"] == "cli" and history(env)[0]["added"] == 2
        write_csv(source, people(2, 3))
        scheduled = {"customers": {**audiences["customers"], "schedule": "1h"}}
    async with world.env(scheduled) as env:
        later = dataclasses.replace(
            env, clock=lambda: time.time() + 3601
        )  # the hour since the last run passed
        scheduler = AudienceScheduler(later, options=FAST, refresh_seconds=0.05)
        task = asyncio.create_task(scheduler.run())
        try:
            for _ in range(200):
                if len(history(env)) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            scheduler.stop()
            await task
        latest = history(env)[0]
        assert (latest["trigger"], latest["added"], latest["removed"]) == ("schedule", 1, 1)
        assert meta_emails(world.meta) == emails(2, 3) and META_AUDIENCE in world.meta.audiences


async def test_a_bug_in_the_status_refresh_does_not_freeze_the_status(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The scheduler's status refresh raising something that is not one of the relay's errors (a bug) is
    logged, and the next refresh still updates what the dashboard shows."""
    from relay.audiences import scheduler as scheduler_module

    calls: list[int] = []
    real = scheduler_module.audience_status

    async def flaky(env: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug in the status")
        return await real(env)

    monkeypatch.setattr(scheduler_module, "audience_status", flaky)
    source = write_csv(world.tmp / "c.csv", people(1, 2))
    async with world.env(csv_audience(source, "meta")) as env:
        scheduler = AudienceScheduler(env, options=FAST, refresh_seconds=0.02)
        task = asyncio.create_task(scheduler.run())
        try:
            for _ in range(200):
                if "customers" in env.status:
                    break
                await asyncio.sleep(0.02)
        finally:
            scheduler.stop()
            await task
        assert len(calls) >= 2 and "customers" in env.status
        assert any("status refresh failed" in r.getMessage() and r.exc_info for r in caplog.records)


class SizedMeta(MetaConnector):
    """Meta whose platform reports a size (a connector implementing ``SizedAudienceConnector``)."""

    answers: ClassVar[list[int | Exception]] = []

    async def audience_size(self, audience_id: str) -> int | None:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_the_size_a_platform_reports_is_recorded(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2))
    async with world.env(csv_audience(source)) as env:
        meta = env.connectors["meta"]
        sized = SizedMeta("meta", meta.settings, meta.client)  # type: ignore[arg-type]
        assert isinstance(sized, SizedAudienceConnector)
        env = dataclasses.replace(env, connectors={**env.connectors, "meta": sized})
        SizedMeta.answers[:] = [1200, RetryableDeliveryError("size unavailable")]
        await sync_audience(env, "customers", FAST)
        await sync_audience(env, "customers", FAST)
        failing, reported = history(env)
        assert reported["destinations"]["meta"]["platform_size"] == 1200
        assert reported["destinations"]["x"]["platform_size"] is None  # X gives no size
        assert failing["status"] == "ok" and failing["destinations"]["meta"]["platform_size"] is None


async def test_a_run_stopped_midway_is_recorded_as_interrupted(world: World) -> None:
    source = write_csv(world.tmp / "c.csv", people(1, 2, 3))
    async with world.env(csv_audience(source, "meta")) as env:
        world.meta.script(ScriptedResponse(passthrough=True), ScriptedResponse(delay=0.5, passthrough=True))
        task = asyncio.create_task(sync_audience(env, "customers", SyncOptions(attempts=1, batch_size=2)))
        # the second batch reaches the platform only after the first was acknowledged: it is in flight now
        while len([r for r in world.meta.requests if "/users" in r.path]) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (run,) = history(env)
        assert counts(run) == ("interrupted", 3, 2, 0, 0)
        assert run["destinations"]["meta"]["size"] == 2 and "stopped before it finished" in run["error"]
