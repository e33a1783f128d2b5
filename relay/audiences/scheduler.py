"""The audience scheduler: runs each audience on its ``schedule`` inside ``relay serve`` / ``relay worker``.

When an audience is due is computed from the database (see ``relay.periodic``); the run lock makes sure
only one worker runs it. ``schedule: manual`` audiences are never run here (only by
``relay audiences sync``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.status import RETRY, audience_status
from relay.audiences.sync import sync_audience
from relay.exceptions import RelayError
from relay.periodic import LockedScheduler
from relay.storage import audiences as store

if TYPE_CHECKING:
    from relay.state import RelayState


class AudienceScheduler(LockedScheduler[SyncEnv]):
    """One loop per scheduled audience, plus one refreshing ``relay.extras["audience_status"]``."""

    kind, retry = "audience", RETRY

    def __init__(
        self, relay: RelayState | SyncEnv, *, options: SyncOptions | None = None, refresh_seconds: float = 5.0
    ) -> None:
        env = relay if isinstance(relay, SyncEnv) else SyncEnv.from_relay(relay)
        super().__init__(env, env.settings.audiences, store.sync_rows, "relay.audiences")
        self.options = dataclasses.replace(options or SyncOptions(), trigger="schedule")
        self.refresh_seconds = refresh_seconds

    def tasks(self) -> dict[str, Coroutine[Any, Any, None]]:
        return {**super().tasks(), "relay-audience-status": self._refresh()}

    async def sync(self, name: str) -> str:
        return (await sync_audience(self.env, name, self.options)).status

    async def _refresh(self) -> None:
        while not self._stopping.is_set():
            try:
                self.env.status.update(await audience_status(self.env))
            except RelayError:  # storage unavailable: the next refresh tries again
                pass
            except Exception:  # a bug: logged, and the refresh goes on (the status would freeze)
                self.log.exception("audience status refresh failed (a bug)")
            await self.pause(self.refresh_seconds)


__all__ = ["AudienceScheduler"]
