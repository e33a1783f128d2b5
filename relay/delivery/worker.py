"""The delivery worker: claims due deliveries per connector, calls the connector, stores outcomes.

While a batch is out, a heartbeat renews its lease (no other worker takes it over, however slow the
platform); a batch in flight when the worker is cancelled gets time to finish and be recorded.
Every text stored or logged from a platform answer is masked by the connector, then clipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors.base import Connector
from relay.delivery.attempt import Mask, Paused, Result, attempt, masker, outbound
from relay.delivery.outbound import to_outbound
from relay.delivery.retry import Deadline, RetryPolicy
from relay.exceptions import StorageError
from relay.metrics import Metrics
from relay.settings import DeliverySettings
from relay.storage import lease, outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import Claimed, Completion
from relay.types import Delivered, Failed, Skipped

log = logging.getLogger("relay.delivery")


class Worker:
    """Runs one loop per active connector until :meth:`stop`; safe to run in many processes at once."""

    def __init__(
        self,
        db: Database,
        connectors: Mapping[str, Connector],
        settings: DeliverySettings,
        metrics: Metrics,
        *,
        config_hashes: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.connectors = dict(connectors)
        self.settings = settings
        self.metrics = metrics
        self.policy = RetryPolicy(settings)
        self.config_hashes = dict(config_hashes or {})
        self.clock = clock
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped; a batch in flight finishes before the loop ends."""
        loops = [
            asyncio.create_task(self._loop(name)) for name, c in self.connectors.items() if c.settings.enabled
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _loop(self, name: str) -> None:
        idle = self.settings.poll_interval_ms / 1000
        while not self._stopping.is_set():
            try:
                worked = 0 if await self._paused(name) else await self.run_once(name)
            except StorageError as exc:
                log.warning(
                    "storage unavailable, will retry", extra={"connector": name, "error": exc.message}
                )
                worked = 0
            except Exception:  # a bug must not stop delivery for good: claimed rows return with their lease
                log.exception("delivery loop failed, will retry", extra={"connector": name})
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), idle)

    async def _paused(self, name: str) -> bool:
        states = await self.db.run(queries.connector_states, self.db.engine)
        return states.get(name, {}).get("state") == "paused"

    async def run_once(self, name: str) -> int:
        """Claim and deliver one batch for connector ``name``; returns how many deliveries it handled."""
        connector = self.connectors[name]
        now = self.clock()
        claimed = await self.db.run(
            outbox.claim,
            self.db.engine,
            name,
            connector.max_batch,
            now,
            self.settings.lease_seconds,
            self.worker_id,
        )
        if not claimed:
            return 0
        work = asyncio.create_task(self._work(name, connector, claimed, now))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            await self._finish(work)
            raise
        return len(claimed)

    async def _finish(self, work: asyncio.Task[None]) -> None:
        """Cancelled with a batch in flight: give the request its timeout and the outcome a lease to be
        written, so that a send the platform acknowledged is recorded (else the lease returns it)."""
        grace = self.settings.request_timeout_seconds + self.settings.lease_seconds
        try:
            await asyncio.wait_for(asyncio.shield(work), grace)
        except TimeoutError:
            work.cancel()
        except Exception:  # nobody else awaits this batch any more
            log.exception("delivery batch failed during shutdown")

    async def _work(self, name: str, connector: Connector, claimed: Sequence[Claimed], now: float) -> None:
        heartbeat = asyncio.create_task(self._heartbeat([c.delivery_id for c in claimed]))
        try:
            done: list[Completion] = []
            ready: list[Claimed] = []
            for c in claimed:
                deadline = self._deadline(connector, c)
                if now >= deadline.at:
                    done.append(Completion(c.delivery_id, "dead", "permanent", last_error=deadline.reason))
                else:
                    ready.append(c)
            if ready:
                done += await self._deliver(name, connector, ready)
            await self._record(name, done)
        finally:
            heartbeat.cancel()
        self._count(name, done)

    async def _heartbeat(self, ids: Sequence[int]) -> None:
        """Renew the lease of the batch every third of it, until cancelled."""
        lease_seconds = self.settings.lease_seconds
        while True:
            await asyncio.sleep(lease_seconds / 3)
            until = self.clock() + lease_seconds
            try:
                await self.db.run(lease.renew, self.db.engine, self.worker_id, ids, until)
            except StorageError as exc:
                log.warning("lease not renewed, will retry", extra={"error": exc.message})

    async def _record(self, name: str, done: Sequence[Completion]) -> None:
        """Store outcomes; shielded, so that a cancellation never loses an acknowledged send."""
        task = asyncio.create_task(self._write(name, done))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("outcomes not recorded", extra={"connector": name, "error": str(task.exception())})
            raise

    async def _write(self, name: str, done: Sequence[Completion]) -> None:
        """Store outcomes, retrying a failed write briefly: a lost write means a resend after the lease."""
        async for attempt_ in AsyncRetrying(
            retry=retry_if_exception_type(StorageError),
            stop=stop_after_attempt(4),
            wait=wait_random_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        ):
            with attempt_:
                await self.db.run(outbox.complete, self.db.engine, name, self.worker_id, done, self.clock())

    async def _deliver(self, name: str, connector: Connector, ready: Sequence[Claimed]) -> list[Completion]:
        started = time.monotonic()
        mask = masker(connector)
        mapped, unreadable = outbound(ready, mask)
        results = await attempt(connector, [event for _, event in mapped], mask)
        latency_ms = (time.monotonic() - started) * 1000
        paused = next((r for r in results if isinstance(r, Paused)), None)
        if paused is not None:
            await self._pause(name, paused)
        pairs: list[tuple[Claimed, Result]] = [
            *unreadable,
            *zip((c for c, _ in mapped), results, strict=True),
        ]
        return [self._completion(name, c, r, latency_ms, mask) for c, r in pairs]

    def _deadline(self, connector: Connector, c: Claimed) -> Deadline:
        """When retrying stops: the platform's acceptance window or ``delivery.max_age_hours``."""
        window_of = getattr(connector, "acceptance_window", None)  # optional for plugins
        window = window_of(c.event["action_source"]) if window_of is not None else None
        return self.policy.deadline(c.created_at, float(c.event["event_time"]), window)

    async def _pause(self, name: str, paused: Paused) -> None:
        reason = paused.message
        await self.db.run(
            queries.pause_connector, self.db.engine, name, reason, self.config_hashes.get(name, "")
        )
        log.error("connector paused", extra={"connector": name, "reason": reason})

    def _completion(
        self, name: str, c: Claimed, outcome: Result, latency_ms: float, mask: Mask
    ) -> Completion:
        """The row update for one outcome; every text from the connector is masked, then clipped."""
        now = self.clock()
        extra = {"connector": name, "delivery_id": c.delivery_id, "event_id": c.event["event_id"]}
        if isinstance(outcome, Paused):
            reason = mask(outcome.message)
            return Completion(
                c.delivery_id, "pending", "paused", now, reason, outcome.status_code, attempts_delta=-1
            )
        if isinstance(outcome, Skipped):
            return Completion(
                c.delivery_id, "skipped", "skipped", now, mask(outcome.reason), attempts_delta=-1
            )
        response = mask(outcome.response) if outcome.response is not None else None
        if isinstance(outcome, Delivered):
            self.metrics.delivery_latency.labels(name).observe(max(now - c.event["received_at"], 0))
            log.info("delivered", extra=extra)
            return Completion(
                c.delivery_id, "delivered", "delivered", now, None, outcome.status_code, response, latency_ms
            )
        message = mask(outcome.message)
        if isinstance(outcome, Failed):
            log.warning("rejected", extra={**extra, "error": message})
            return Completion(
                c.delivery_id, "dead", "permanent", now, message, outcome.status_code, response, latency_ms
            )
        deadline = self._deadline(self.connectors[name], c)
        decision = self.policy.after_failure(c.attempts, deadline, now, outcome.retry_after, message)
        log.info("retry", extra={**extra, "error": message, "status": decision.status})
        return Completion(
            c.delivery_id,
            decision.status,
            "retryable",
            decision.next_attempt_at,
            mask(decision.reason or message),
            outcome.status_code,
            response,
            latency_ms,
        )

    def _count(self, name: str, done: Sequence[Completion]) -> None:
        for c in done:
            if c.outcome in ("delivered", "retryable", "permanent"):
                self.metrics.delivery_attempts.labels(name, c.outcome).inc()
            if c.status != "pending":
                self.metrics.deliveries.labels(name, c.status).inc()


__all__ = ["Worker", "to_outbound"]  # to_outbound lived here
