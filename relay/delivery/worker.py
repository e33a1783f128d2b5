"""The delivery worker: claims due deliveries per connector, calls the connector, stores outcomes.

While a batch is out, a heartbeat renews its lease (no other worker takes it over, however slow the
platform); a batch in flight when the worker is cancelled gets time to finish and be recorded.
Every text stored or logged from a platform answer is masked by the connector, then clipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors.base import Connector, WindowedConnector, clip
from relay.delivery.attempt import Mask, Paused, Result, attempt, masker, outbound
from relay.delivery.outbound import to_outbound
from relay.delivery.requests import recording
from relay.delivery.retry import Deadline, RetryPolicy
from relay.exceptions import StorageError
from relay.metrics import Metrics
from relay.settings import DeliverySettings
from relay.storage.outbox import ClaimedDelivery, Completion, Outbox
from relay.types import AttemptOutcome, Delivered, DeliveryStatus, Failed, Skipped

log = logging.getLogger("relay.delivery")
#: batches of one connector out at once: while one is with the platform, the next is claimed and the
#: one before recorded, so the database's work overlaps the platform's (a lane each, claims exclusive)
BATCHES_IN_FLIGHT = 2
#: how long a connector's paused state read from the database is trusted: not one query per batch, and a
#: resume (or a pause by another process) is seen within this time
PAUSED_CHECK_SECONDS = 1.0


class Worker:
    """Runs :data:`BATCHES_IN_FLIGHT` loops per active connector until :meth:`stop`; safe to run in many
    processes at once."""

    def __init__(
        self,
        outbox: Outbox,
        connectors: Mapping[str, Connector],
        settings: DeliverySettings,
        metrics: Metrics,
        *,
        config_hashes: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.connectors = dict(connectors)
        self.settings = settings
        self.metrics = metrics
        self.policy = RetryPolicy(settings)
        self.config_hashes = dict(config_hashes or {})
        self.clock = clock
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = asyncio.Event()
        self._paused_seen: dict[str, tuple[float, bool]] = {}  # connector → (when read, paused)
        self._windowed: dict[int, bool] = {}  # id(connector) → whether it is a WindowedConnector

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped; a batch in flight finishes before the loop ends."""
        enabled = [name for name, c in self.connectors.items() if c.settings.enabled]
        loops = [asyncio.create_task(self._loop(name)) for name in enabled for _ in range(BATCHES_IN_FLIGHT)]
        try:
            await asyncio.gather(*loops)
        except asyncio.CancelledError:
            # gather cancelled every loop once and returns as soon as an idle one is done; a loop with a
            # batch out is still recording it (run_once): wait for it rather than cancel it a second time
            await asyncio.wait(loops)
            raise
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

    def resumed(self, name: str) -> None:
        """``name`` was resumed in this process: read its state again before the next claim."""
        self._paused_seen.pop(name, None)

    async def _paused(self, name: str) -> bool:
        now = time.monotonic()
        seen = self._paused_seen.get(name)
        if seen is not None and now - seen[0] < PAUSED_CHECK_SECONDS:
            return seen[1]
        paused = await self.outbox.paused(name)
        self._paused_seen[name] = (now, paused)
        return paused

    async def run_once(self, name: str) -> int:
        """Claim and deliver one batch for connector ``name``; returns how many deliveries it handled."""
        connector = self.connectors[name]
        now = self.clock()
        claimed = await self.outbox.claim(
            name,
            limit=connector.max_batch,
            now=now,
            lease_seconds=self.settings.lease_seconds,
            worker_id=self.worker_id,
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

    async def _work(
        self, name: str, connector: Connector, claimed: Sequence[ClaimedDelivery], now: float
    ) -> None:
        heartbeat = asyncio.create_task(self._heartbeat([c.delivery_id for c in claimed]))
        try:
            done: list[Completion] = []
            ready: list[ClaimedDelivery] = []
            for c in claimed:
                try:
                    deadline = self._deadline(connector, c)
                except Exception as exc:  # a plugin's acceptance_window failing on this event: it alone fails
                    reason = masker(connector)(f"cannot compute its deadline: {type(exc).__name__}: {exc}")
                    log.error("deadline failed on one event", extra={"connector": name, "error": reason})
                    done.append(self._dead(c, reason))
                    continue
                if now >= deadline.at:
                    done.append(self._dead(c, deadline.reason))
                else:
                    ready.append(c)
            if ready:
                done += await self._deliver(name, connector, ready)
            await self._record(name, done)
        finally:
            heartbeat.cancel()
        self._count(name, done)

    @staticmethod
    def _dead(c: ClaimedDelivery, reason: str) -> Completion:
        """Not sent and never will be: past its deadline, or no deadline can be computed for it."""
        return Completion(
            delivery_id=c.delivery_id,
            status=DeliveryStatus.DEAD,
            outcome=AttemptOutcome.PERMANENT,
            last_error=reason,
        )

    async def _heartbeat(self, ids: Sequence[int]) -> None:
        """Renew the lease of the batch every third of it, until cancelled."""
        lease_seconds = self.settings.lease_seconds
        while True:
            await asyncio.sleep(lease_seconds / 3)
            until = self.clock() + lease_seconds
            try:
                await self.outbox.renew(self.worker_id, ids, until)
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
                await self.outbox.complete(name, self.worker_id, done, self.clock())

    async def _deliver(
        self, name: str, connector: Connector, ready: Sequence[ClaimedDelivery]
    ) -> list[Completion]:
        started = time.monotonic()
        mask = masker(connector)
        mapped, unreadable = outbound(ready, mask)
        with recording() as recorder:
            results = await attempt(connector, [event for _, event in mapped], mask)
        latency_ms = (time.monotonic() - started) * 1000
        paused = next((r for r in results if isinstance(r, Paused)), None)
        if paused is not None:
            await self._pause(name, paused)
        pairs: list[tuple[ClaimedDelivery, Result]] = [
            *unreadable,
            *zip((c for c, _ in mapped), results, strict=True),
        ]
        # each attempt keeps the request that carried its event: masked by the recorder, cut like the answers
        sent = {id(c): request for c, event in mapped if (request := recorder.request_of(event)) is not None}
        return [
            self._completion(name, c, r, latency_ms, mask, clip(sent[id(c)]) if id(c) in sent else None)
            for c, r in pairs
        ]

    def _deadline(self, connector: Connector, c: ClaimedDelivery) -> Deadline:
        """When retrying stops: the platform's acceptance window or ``delivery.max_age_hours``."""
        window = None  # optional for plugins; a runtime Protocol check costs ~10 µs: once per connector
        windowed = self._windowed.get(id(connector))
        if windowed is None:
            windowed = self._windowed[id(connector)] = isinstance(connector, WindowedConnector)
        if windowed:
            window = cast(WindowedConnector, connector).acceptance_window(c.event.action_source)
        return self.policy.deadline(c.created_at, float(c.event.event_time), window)

    async def _pause(self, name: str, paused: Paused) -> None:
        reason = paused.message
        await self.outbox.pause(name, reason, self.config_hashes.get(name, ""))
        self._paused_seen[name] = (time.monotonic(), True)  # this process stops sending at once
        log.error("connector paused", extra={"connector": name, "reason": reason})

    def _completion(
        self, name: str, c: ClaimedDelivery, outcome: Result, ms: float, mask: Mask, sent: str | None
    ) -> Completion:
        """The row update for one outcome (``sent``: the request that carried the event, masked, taking
        ``ms``); every text from the connector is masked, then clipped."""
        now = self.clock()
        extra = {"connector": name, "delivery_id": c.delivery_id, "event_id": c.event.event_id}
        # not really tried: give back the attempt counted at claim
        untried = functools.partial(
            Completion, delivery_id=c.delivery_id, next_attempt_at=now, attempts_delta=-1
        )
        if isinstance(outcome, Paused):
            return untried(
                status=DeliveryStatus.PENDING,
                outcome=AttemptOutcome.PAUSED,
                last_error=mask(outcome.message),
                status_code=outcome.status_code,
                request=sent,
            )
        if isinstance(outcome, Skipped):
            return untried(
                status=DeliveryStatus.SKIPPED, outcome=AttemptOutcome.SKIPPED, last_error=mask(outcome.reason)
            )
        response = mask(outcome.response) if outcome.response is not None else None
        tried = functools.partial(
            Completion,
            delivery_id=c.delivery_id,
            status_code=outcome.status_code,
            response=response,
            latency_ms=ms,
            request=sent,
        )
        if isinstance(outcome, Delivered):
            self.metrics.delivery_latency.labels(name).observe(max(now - c.event.received_at, 0))
            log.info("delivered", extra=extra)
            return tried(
                status=DeliveryStatus.DELIVERED,
                outcome=AttemptOutcome.DELIVERED,
                next_attempt_at=now,
            )
        message = mask(outcome.message)
        if isinstance(outcome, Failed):
            log.warning("rejected", extra={**extra, "error": message})
            return tried(
                status=DeliveryStatus.DEAD,
                outcome=AttemptOutcome.PERMANENT,
                next_attempt_at=now,
                last_error=message,
            )
        deadline = self._deadline(self.connectors[name], c)
        decision = self.policy.after_failure(c.attempts, deadline, now, outcome.retry_after, message)
        log.info("retry", extra={**extra, "error": message, "status": decision.status})
        return tried(
            status=decision.status,
            outcome=AttemptOutcome.RETRYABLE,
            next_attempt_at=decision.next_attempt_at,
            last_error=mask(decision.reason or message),
        )

    def _count(self, name: str, done: Sequence[Completion]) -> None:
        """Count outcomes, one increment per kind and batch (a counter takes a lock on each call)."""
        tried = (AttemptOutcome.DELIVERED, AttemptOutcome.RETRYABLE, AttemptOutcome.PERMANENT)
        outcomes = Counter(c.outcome for c in done if c.outcome in tried)
        statuses = Counter(c.status for c in done if c.status is not DeliveryStatus.PENDING)
        for outcome, n in outcomes.items():
            self.metrics.delivery_attempts.labels(name, outcome.value).inc(n)
        for status, n in statuses.items():
            self.metrics.deliveries.labels(name, status.value).inc(n)


__all__ = ["Worker", "to_outbound"]  # to_outbound lived here
