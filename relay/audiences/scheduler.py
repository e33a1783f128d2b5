"""The audience scheduler: runs each audience on its ``schedule`` inside ``relay serve`` / ``relay worker``.

When an audience is due is computed from the database (its last start, or its last failure), so several
workers agree; the run lock makes sure only one of them runs it. ``schedule: manual`` audiences are
never run here (only by ``relay audiences sync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.status import audience_status, next_run_at
from relay.audiences.sync import sync_audience
from relay.duration import parse_duration
from relay.exceptions import RelayError
from relay.storage import audiences as store

if TYPE_CHECKING:
    from relay.state import RelayState

log = logging.getLogger("relay.audiences")


class AudienceScheduler:
    """One loop per scheduled audience, plus one refreshing ``relay.extras["audience_status"]``."""

    def __init__(
        self, relay: RelayState | SyncEnv, *, options: SyncOptions | None = None, refresh_seconds: float = 5.0
    ) -> None:
        self.env = relay if isinstance(relay, SyncEnv) else SyncEnv.from_relay(relay)
        self.options = options or SyncOptions()
        self.refresh_seconds = refresh_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return; a run in progress is cancelled (its acknowledged state is kept)."""
        self._stopping.set()

    async def run(self) -> None:
        """Schedule until :meth:`stop`."""
        audiences = self.env.settings.audiences
        names = [n for n, a in audiences.items() if a.schedule != "manual" and a.destinations]
        tasks = [asyncio.create_task(self._loop(n), name=f"relay-audience-{n}") for n in names]
        tasks.append(asyncio.create_task(self._refresh(), name="relay-audience-status"))
        try:
            await self._stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, name: str) -> None:
        audience = self.env.settings.audiences[name]
        poll = min(max(parse_duration(audience.schedule) / 10, 0.05), 15.0)
        while not self._stopping.is_set():
            wait = poll
            try:
                rows = await self.env.db.run(store.sync_rows, self.env.db.engine)
                now = self.env.clock()
                due = next_run_at(audience, rows.get(name), now)
                if due is not None and due <= now:
                    run = await sync_audience(self.env, name, self.options)
                    if run.status != "busy":
                        log.info("scheduled audience run", extra={"audience": name, "status": run.status})
                elif due is not None:
                    wait = min(poll, max(due - now, 0.01))
            except RelayError as exc:
                log.warning("audience scheduler", extra={"audience": name, "error": exc.message})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def _refresh(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(RelayError):
                self.env.status.update(await audience_status(self.env))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.refresh_seconds)


__all__ = ["AudienceScheduler"]
