"""The scheduler of locked jobs (audiences, catalogs): when a job is due, and how its loops share one
read of the run lock's rows per tick, on an in-memory store of rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from relay.periodic import LockedScheduler, next_run_at

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

NOW = 1_700_000_000.0


class LockRows:
    """The run lock's rows by job name, as ``sync_rows`` reads them; counts the reads."""

    def __init__(self, rows: dict[str, dict[str, Any]] | None = None) -> None:
        self.rows = rows or {}
        self.reads = 0

    def __call__(self, engine: Any) -> dict[str, dict[str, Any]]:
        self.reads += 1
        return {name: dict(row) for name, row in self.rows.items()}


class MemoryDb:
    engine = None

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        await asyncio.sleep(0)  # a read takes a turn of the event loop, as in the thread pool
        return fn(*args)


@dataclass
class Env:
    db: MemoryDb = field(default_factory=MemoryDb)
    clock: Callable[[], float] = lambda: NOW


@dataclass(frozen=True)
class Job:
    schedule: str
    destinations: dict[str, Any] = field(default_factory=lambda: {"meta": {}})


class Scheduler(LockedScheduler[Env]):
    """Runs a job by recording it in the rows; counts the loops' looks."""

    kind = "job"

    def __init__(self, rows: LockRows, **schedules: str) -> None:
        super().__init__(Env(), {name: Job(s) for name, s in schedules.items()}, rows, "tests.periodic")
        self.rows, self.ran, self.looks = rows, [], 0

    async def due(self, name: str) -> tuple[float, float | None]:
        self.looks += 1
        return await super().due(name)

    async def sync(self, name: str) -> str:
        self.ran.append(name)
        self.rows.rows[name] = ran_at(NOW)
        return "ok"


def ran_at(started: float) -> dict[str, Any]:
    return {"started_at": started, "finished_at": started + 1, "status": "ok", "owner": None}


def test_next_run_at() -> None:
    assert next_run_at("manual", None, NOW, retry=()) is None
    assert next_run_at("1h", None, NOW, retry=()) == NOW
    assert next_run_at("1h", ran_at(NOW - 10), NOW, retry=()) == NOW - 10 + 3600
    running = {**ran_at(NOW - 10), "owner": "w2", "lease_until": NOW + 60}
    assert next_run_at("1h", running, NOW, retry=()) == NOW + 60
    failed = {**ran_at(NOW - 10), "status": "failed"}
    assert next_run_at("1h", failed, NOW, retry=("failed",)) == NOW - 9 + 300
    # SQLite keeps text in any column (a row edited by hand): a time that is no number is not known
    unreadable = {**failed, "started_at": "yesterday", "finished_at": "x", "owner": "w2", "lease_until": "y"}
    assert next_run_at("1h", unreadable, NOW, retry=("failed",)) == NOW
    started = {**unreadable, "started_at": NOW - 10}
    assert next_run_at("1h", started, NOW, retry=("failed",)) == NOW - 10 + 3600


async def test_the_loops_that_look_in_one_tick_share_one_read() -> None:
    rows = LockRows({name: ran_at(NOW) for name in ("a", "b", "c")})
    scheduler = Scheduler(rows, a="1s", b="2s", c="10m")
    assert scheduler.tick == 0.1  # the shortest poll: a tenth of a's interval
    answers = await asyncio.gather(*(scheduler.due(name) for name in ("a", "b", "c")))
    assert answers == [(NOW, NOW + 1), (NOW, NOW + 2), (NOW, NOW + 600)]
    assert rows.reads == 1
    await scheduler.due("b")
    assert rows.reads == 1  # still this tick
    await asyncio.sleep(scheduler.tick * 1.5)
    await scheduler.due("c")
    assert rows.reads == 2


async def test_a_job_due_on_an_earlier_read_is_looked_at_again_on_a_fresh_one() -> None:
    rows = LockRows({"b": ran_at(NOW - 10)})
    scheduler = Scheduler(rows, a="1h", b="1h")
    await scheduler.due("b")
    rows.rows["a"] = ran_at(NOW - 1)  # another worker has just run a: the shared read does not know
    assert await scheduler.due("a") == (NOW, NOW - 1 + 3600)
    assert rows.reads == 2


async def test_a_job_due_on_its_own_read_is_not_read_again() -> None:
    rows = LockRows()
    scheduler = Scheduler(rows, a="1h")
    assert await scheduler.due("a") == (NOW, NOW)
    assert rows.reads == 1


async def test_the_scheduler_runs_each_due_job_once_and_reads_once_a_tick() -> None:
    rows = LockRows()
    scheduler = Scheduler(rows, **{name: "1s" for name in "abcde"})
    running = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.6)
    scheduler.stop()
    await running
    assert sorted(scheduler.ran) == list("abcde")
    # five loops look about every tick; each tick's first look reads for all five
    assert scheduler.looks >= 15 and rows.reads * 2 <= scheduler.looks


class Buggy(Scheduler):
    """Job ``a``'s first run raises what no job should (a bug), not a :class:`RelayError`."""

    async def sync(self, name: str) -> str:
        if name == "a" and "a" not in self.ran:
            self.ran.append(name)
            raise KeyError("a bug")
        return await super().sync(name)


async def test_a_bug_in_one_run_ends_neither_its_loop_nor_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = LockRows()
    scheduler = Buggy(rows, a="1s", b="1s")
    running = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.3)
    scheduler.stop()
    await running
    assert scheduler.ran.count("a") == 2 and "b" in scheduler.ran  # a ran again, after its bug
    assert rows.rows["a"]["status"] == "ok"
    assert "scheduled job failed (a bug)" in caplog.text
