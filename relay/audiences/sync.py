"""One run of one audience: take its lock, stage the source, bring every destination in line, record.

Only one run of an audience happens at a time across all processes: a lock row with a lease, taken by
one ``UPDATE ... WHERE the lease expired`` and renewed while the run lasts (a run whose process died is
taken over once its lease expires). The source is read in a thread of its own and staged in chunks
through the database thread, so ingest keeps its turn on SQLite's single writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.diff import DestinationSync, LockLostError
from relay.audiences.history import record
from relay.audiences.members import Encoded
from relay.audiences.progress import Progress
from relay.audiences.results import AudienceRun, DestinationResult
from relay.audiences.sources import SourceContext, SourceStats, member_chunks
from relay.audiences.status import audience_status
from relay.exceptions import ConfigError, RelayError
from relay.settings import AudienceSettings
from relay.storage import audiences as store

log = logging.getLogger("relay.audiences")


class Lease:
    """The audience's lock, renewed in the background while a run holds it."""

    def __init__(self, env: SyncEnv, audience: str, seconds: float) -> None:
        self.env, self.audience, self.seconds = env, audience, seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    async def acquire(self, *, record: bool) -> bool:
        db = self.env.db
        now = self.env.clock()
        take = functools.partial(
            store.acquire, db.engine, self.audience, self.owner, now, self.seconds, record=record
        )
        got = await db.run(take)
        if got:
            self._task = asyncio.create_task(self._renew(), name=f"audience-lease-{self.audience}")
        return bool(got)

    async def _renew(self) -> None:
        db = self.env.db
        while not self.lost:
            await asyncio.sleep(self.seconds / 4)
            with contextlib.suppress(RelayError):  # a storage hiccup: try again next time
                held = await db.run(
                    store.renew, db.engine, self.audience, self.owner, self.env.clock(), self.seconds
                )
                self.lost = not held

    def check(self) -> None:
        if self.lost:
            raise LockLostError()

    async def release(self, **outcome: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        db = self.env.db
        await db.run(lambda: store.release(db.engine, self.audience, self.owner, self.env.clock(), **outcome))


async def stage(
    env: SyncEnv,
    name: str,
    audience: AudienceSettings,
    scope: str,
    stats: SourceStats,
    progress: Progress,
    check_lease: Callable[[], None] = lambda: None,
) -> None:
    """Read the source into the staging table (constant memory: one chunk at a time)."""
    db, loop = env.db, asyncio.get_running_loop()
    await db.run(store.clear_staging, db.engine, name, scope)
    suppressed = frozenset(await db.run(store.suppressed, db.engine))

    def run_db(fn: Any, *args: Any) -> Any:  # from the source thread, through the database thread
        return asyncio.run_coroutine_threadsafe(db.run(fn, db.engine, *args), loop).result()

    ctx = SourceContext(name, scope, db, run_db, env.settings.server.default_country, suppressed, env.clock())
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relay-audience-{name}")
    chunks: Iterator[list[Encoded]] = member_chunks(audience.source, ctx, stats)
    try:
        while (chunk := await loop.run_in_executor(pool, next, chunks, None)) is not None:
            check_lease()
            await db.run(store.stage, db.engine, name, scope, [(e.key, e.text) for e in chunk])
            progress.read(name, scope, stats)
    finally:
        await loop.run_in_executor(pool, _close, chunks)
        pool.shutdown(wait=False)


def _close(chunks: Iterator[Any]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


async def sync_audience(
    env: SyncEnv, name: str, options: SyncOptions | None = None, progress: Progress | None = None
) -> AudienceRun:
    """Run audience ``name`` once; a run already going on elsewhere makes this one ``busy``."""
    options, progress = options or SyncOptions(), progress or Progress()
    audience = env.settings.audiences.get(name)
    if audience is None:
        raise ConfigError(f"no audience named {name!r} in the config", key="audiences")
    run = AudienceRun(name, source_type=audience.source.type)
    run.start(options, env.clock())
    lease = Lease(env, name, options.lease_seconds)
    if not await lease.acquire(record=not options.dry_run):
        run.status, run.error, run.finished_at = (
            "busy",
            "another run of this audience is in progress",
            env.clock(),
        )
        return run
    progress.started(name)
    try:
        await _destinations(env, name, audience, run, options, progress, lease)
        run.conclude()
    except RelayError as exc:
        run.status, run.error = "failed", exc.message
    except Exception as exc:  # a bug must not stop the scheduler; the state is safe as committed
        log.exception("audience sync failed", extra={"audience": name})
        run.status, run.error = "failed", f"internal error: {type(exc).__name__}"
    finally:
        run.finish(env.clock())  # a run cancelled at shutdown keeps what was acknowledged
        progress.finished(name)
        await _wrap_up(env, name, run, lease, options.trigger)
    return run


async def _destinations(
    env: SyncEnv,
    name: str,
    audience: AudienceSettings,
    run: AudienceRun,
    options: SyncOptions,
    progress: Progress,
    lease: Lease,
) -> None:
    per_destination = audience.source.type == "events"  # consent differs per destination
    for destination, dest in audience.destinations.items():
        scope = destination if per_destination else store.ALL
        if scope not in run.sources:
            run.sources[scope] = SourceStats()
            await stage(env, name, audience, scope, run.sources[scope], progress, lease.check)
        result = DestinationResult(destination, dest.audience_id, run.sources[scope])
        run.destinations.append(result)
        try:
            sync = DestinationSync(env, name, scope, destination, dest, options, progress, lease.check)
            await sync.run(result)
        except LockLostError:
            raise
        except RelayError as exc:
            result.status, result.error = "failed", exc.message
            log.warning(
                "audience destination failed",
                extra={"audience": name, "connector": destination, "error": exc.message},
            )
        except Exception as exc:  # a connector bug fails its destination, not the others
            log.exception("audience destination failed", extra={"audience": name, "connector": destination})
            result.status, result.error = "failed", f"connector error: {type(exc).__name__}"


async def _wrap_up(env: SyncEnv, name: str, run: AudienceRun, lease: Lease, trigger: str) -> None:
    db = env.db
    try:
        if not lease.lost:  # the staging rows belong to whoever took the lock over
            await db.run(store.finish, db.engine, name)
    except RelayError as exc:  # the staging rows are cleared by the next run anyway
        log.warning("audience staging not cleared", extra={"audience": name, "error": exc.message})
    if run.dry_run:
        await lease.release()
        return
    await lease.release(status=run.status, summary=json.dumps(run.as_dict()), error=run.error)
    await record(env, run, trigger)
    env.status.update(await audience_status(env, [name]))
    log.info("audience synced", extra={"audience": name, "status": run.status, "error": run.error or ""})


__all__ = ["Lease", "sync_audience"]
