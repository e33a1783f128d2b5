"""Jobs run on a ``schedule`` inside ``relay serve`` / ``relay worker``: audiences, catalogs, reconciliation.

A schedule is a duration (``6h``) or ``manual`` (run only from the command line). When a job is due is
computed from the database (its last start, or its last failure), so several workers agree; each job's
run lock makes sure only one of them runs it. :class:`BaseScheduler` is the loop they share: one task
per scheduled job, polling a tenth of its interval (between 50 ms and 15 s), until :meth:`stop`;
:class:`LockedScheduler` runs configured jobs that keep their last run in a run lock's rows, which its
loops read once per tick (their shortest poll) between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from pydantic import AfterValidator

from relay.duration import parse_duration
from relay.exceptions import RelayError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from relay.storage.db import Database

log = logging.getLogger("relay.periodic")

#: how soon a failed scheduled run is tried again (unless its schedule is shorter)
RETRY_AFTER_FAILURE = 300.0


def _schedule(value: str) -> str:
    if value != "manual":
        parse_duration(value)
    return value


#: a settings field holding a duration or ``manual``
Schedule = Annotated[str, AfterValidator(_schedule)]


def next_run_at(
    schedule: str, row: Mapping[str, Any] | None, now: float, *, retry: Collection[str]
) -> float | None:
    """When a job whose lock row is ``row`` runs next (None for ``manual``): now if it never ran, when
    the lease of a run elsewhere ends, a while after a run that ended in a ``retry`` status, else one
    interval after the last start."""
    if schedule == "manual":
        return None
    interval = parse_duration(schedule)
    started = _seconds(row, "started_at")
    if row is None or started is None:
        return now
    if running(row, now):
        return _seconds(row, "lease_until")  # running elsewhere: look again when its lease would end
    finished = _seconds(row, "finished_at")
    if row.get("status") in retry and finished:
        return finished + min(interval, RETRY_AFTER_FAILURE)
    return started + interval


def running(row: Mapping[str, Any] | None, now: float) -> bool:
    """Whether a run holds the lock whose row is ``row`` (its owner's lease has not ended)."""
    lease = _seconds(row, "lease_until")
    return bool(row and row.get("owner")) and lease is not None and lease > now


def _seconds(row: Mapping[str, Any] | None, key: str) -> float | None:
    """A time of a run lock row; None where it is not a number (SQLite keeps text in any column, and
    a row edited by hand must not stop its job's loop: the job runs and writes it again)."""
    value = row.get(key) if row else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class Scheduled(Protocol):
    """A configured job: its schedule and where it sends."""

    @property
    def schedule(self) -> str: ...

    @property
    def destinations(self) -> Mapping[str, Any]: ...


Rows = Mapping[str, Mapping[str, Any]]


def poll_seconds(interval: float) -> float:
    """How often the loop of a job run every ``interval`` seconds looks whether it is due."""
    return min(max(interval / 10, 0.05), 15.0)


class BaseScheduler(ABC):
    """One loop per scheduled job until :meth:`stop`; a subclass says which jobs, when each is due and
    how it runs."""

    #: the tasks are named ``{task_prefix}-{job}``
    task_prefix = "relay-job"

    def __init__(self) -> None:
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return; a run in progress is cancelled (its acknowledged state is kept)."""
        self._stopping.set()

    async def run(self) -> None:
        """Schedule until :meth:`stop`."""
        tasks = [asyncio.create_task(coro, name=name) for name, coro in self.tasks().items()]
        try:
            await self._stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def tasks(self) -> dict[str, Coroutine[Any, Any, None]]:
        """The coroutines :meth:`run` runs, by task name: one loop per job."""
        jobs = self.jobs()
        return {f"{self.task_prefix}-{name}": self._loop(name, interval) for name, interval in jobs.items()}

    @abstractmethod
    def jobs(self) -> dict[str, float]:
        """The scheduled jobs and their intervals in seconds."""

    @abstractmethod
    async def due(self, name: str) -> tuple[float, float | None]:
        """The time now and when ``name`` is due (None: never)."""

    @abstractmethod
    async def run_job(self, name: str) -> None:
        """Run ``name`` once."""

    @abstractmethod
    def failed(self, name: str, exc: RelayError) -> None:
        """Report a failed look or run (the loop goes on)."""

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when :meth:`stop` is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _loop(self, name: str, interval: float) -> None:
        poll = poll_seconds(interval)
        while not self._stopping.is_set():
            wait = poll
            try:
                now, due = await self.due(name)
                if due is not None and due <= now:
                    await self.run_job(name)
                elif due is not None:
                    wait = min(poll, max(due - now, 0.01))
            except RelayError as exc:
                self.failed(name, exc)
            except Exception:  # a bug in one look or run: its job is looked at again, the others go on
                log.exception("scheduled job failed (a bug)", extra={"job": name})
            await self.pause(wait)


class JobEnv(Protocol):
    """What a :class:`LockedScheduler` needs of its jobs' environment."""

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Callable[[], float]: ...


E = TypeVar("E", bound=JobEnv)


class LockedScheduler(BaseScheduler, Generic[E]):
    """One loop per configured job with a schedule and destinations, due by its run lock's row
    (``sync_rows``); a subclass names its ``kind`` and the ``retry`` statuses, and runs a job.

    The loops share their reads of the rows: one read serves every loop that looks within a tick (the
    shortest poll of the jobs), and a job found due is looked at again on a read begun after it asked,
    so that a run another worker has just finished is not started again from a read older than it."""

    kind = "job"
    retry: Collection[str] = ("failed",)

    def __init__(
        self, env: E, configs: Mapping[str, Scheduled], sync_rows: Callable[[Engine], Rows], log: str
    ) -> None:
        super().__init__()
        self.task_prefix = f"relay-{self.kind}"
        self.env, self.configs, self.sync_rows = env, configs, sync_rows
        self.log = logging.getLogger(log)
        self.tick = min((poll_seconds(interval) for interval in self.jobs().values()), default=15.0)
        #: the latest read of the rows: when it began (event loop time) and the task reading them
        self._read: tuple[float, asyncio.Task[Rows]] | None = None

    @abstractmethod
    async def sync(self, name: str) -> str:
        """Run ``name`` now; answers the run's status."""

    def jobs(self) -> dict[str, float]:
        scheduled = {n: c for n, c in self.configs.items() if c.schedule != "manual" and c.destinations}
        return {name: parse_duration(config.schedule) for name, config in scheduled.items()}

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._read is not None:
                self._read[1].cancel()
                self._read = None

    async def due(self, name: str) -> tuple[float, float | None]:
        asked = asyncio.get_running_loop().time()
        begun, rows = await self._rows(since=asked - self.tick)
        now, at = self._next_run(name, rows)
        if at is not None and at <= now and begun < asked:
            _, rows = await self._rows(since=asked)
            now, at = self._next_run(name, rows)
        return now, at

    def _next_run(self, name: str, rows: Rows) -> tuple[float, float | None]:
        now = self.env.clock()
        return now, next_run_at(self.configs[name].schedule, rows.get(name), now, retry=self.retry)

    async def _rows(self, since: float) -> tuple[float, Rows]:
        """The rows from a read begun at ``since`` or later (event loop time): the one in progress or
        the latest, else a new one; and when that read began."""
        if self._read is None or self._read[0] < since:
            db = self.env.db
            read = asyncio.create_task(db.run(self.sync_rows, db.engine))
            self._read = (asyncio.get_running_loop().time(), read)
        begun, read = self._read
        # shielded: a loop cancelled while waiting must not cancel the read the others wait for
        return begun, await asyncio.shield(read)

    async def run_job(self, name: str) -> None:
        status = await self.sync(name)
        if status != "busy":
            self.log.info(f"scheduled {self.kind} run", extra={self.kind: name, "status": status})

    def failed(self, name: str, exc: RelayError) -> None:
        self.log.warning(f"{self.kind} scheduler", extra={self.kind: name, "error": exc.message})


__all__ = [
    "RETRY_AFTER_FAILURE",
    "BaseScheduler",
    "LockedScheduler",
    "Rows",
    "Schedule",
    "Scheduled",
    "next_run_at",
    "poll_seconds",
    "running",
]
