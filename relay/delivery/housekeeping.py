"""Periodic housekeeping beside the worker: the retention policy (``storage.retention_days``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from relay.exceptions import StorageError
from relay.storage import queries
from relay.storage.db import Database

log = logging.getLogger("relay.housekeeping")


class Housekeeper:
    """Purges events past retention every ``interval`` seconds (first run after ``delay``)."""

    def __init__(
        self, db: Database, retention_days: int, *, interval: float = 3600.0, delay: float = 60.0
    ) -> None:
        self.db = db
        self.retention_days = retention_days
        self.interval = interval
        self.delay = delay
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def purge_once(self) -> dict[str, int]:
        cutoff = time.time() - self.retention_days * 86400
        result = await self.db.run(queries.purge, self.db.engine, cutoff)
        if any(result.values()):
            log.info("retention applied", extra=result)
        return result

    async def run(self) -> None:
        wait = self.delay
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            if self._stopping.is_set():
                return
            try:
                await self.purge_once()
            except StorageError as exc:
                log.warning("retention run failed, will retry", extra={"error": exc.message})
            wait = self.interval
