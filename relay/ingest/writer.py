"""Group commit: events arriving while a transaction is being written wait for the next one,
so every 202 is durable and throughput does not pay one fsync per request.

One client's event the database refuses does not fail the group: the outbox finds it by bisection
and returns it ``rejected`` to its submitter only (see :mod:`relay.storage.faults`); only an
unavailable database fails every submission of the group."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from relay.exceptions import StorageError
from relay.storage.outbox import NewEvent, Outbox, StoreResult

_Item = tuple[Sequence[NewEvent], asyncio.Future[list[StoreResult]]]
MAX_GROUP = 2000


class GroupCommitWriter:
    """One background task writes queued batches together in one transaction."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="relay-group-commit")

    async def submit(self, events: Sequence[NewEvent]) -> list[StoreResult]:
        """Store ``events``; returns once they are committed (an event whose own data cannot be stored
        comes back with :attr:`StoreResult.rejected` set), raises :class:`StorageError` otherwise."""
        if not events:
            return []
        if self._task is None or self._task.done():
            raise StorageError("the writer is not running")
        future: asyncio.Future[list[StoreResult]] = asyncio.get_running_loop().create_future()
        await self._queue.put((events, future))
        return await future

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            size = len(group[0][0])
            while size < MAX_GROUP and not self._queue.empty():
                item = self._queue.get_nowait()
                group.append(item)
                size += len(item[0])
            await self._write(group)

    async def _write(self, group: list[_Item]) -> None:
        flat = [ev for events, _ in group for ev in events]
        try:
            results = await self.outbox.store(flat, time.time())
        except Exception as exc:
            error = (
                exc if isinstance(exc, StorageError) else StorageError(f"storage error: {type(exc).__name__}")
            )
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        start = 0
        for events, future in group:
            if not future.done():
                future.set_result(results[start : start + len(events)])
            start += len(events)

    async def aclose(self) -> None:
        """Finish what is queued, then stop."""
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
