"""The delivery worker: claims due deliveries per connector, calls the connector, stores outcomes."""

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
from relay.delivery.retry import RetryPolicy
from relay.exceptions import AuthRejectedError, PermanentDeliveryError, RetryableDeliveryError, StorageError
from relay.metrics import Metrics
from relay.settings import DeliverySettings
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import Claimed, Completion
from relay.types import ConsentVerdict, Delivered, Failed, OutboundEvent, Outcome, Retry, Skipped

log = logging.getLogger("relay.delivery")


def to_outbound(c: Claimed) -> OutboundEvent:
    """The event as the connector sees it; the ``strip`` consent mode removes contact details here."""
    ev = c.event
    verdict = ConsentVerdict(c.decision, c.reason, c.mode, c.ldu)  # type: ignore[arg-type]
    return OutboundEvent(
        delivery_id=c.delivery_id,
        event_id=ev["event_id"],
        event_name=ev["event_name"],
        event_time=ev["event_time"],
        action_source=ev["action_source"],
        event_source_url=ev["event_source_url"],
        referrer_url=ev["referrer_url"],
        opt_out=bool(ev["opt_out"]),
        hashed={} if c.mode == "strip" else dict(ev["hashed"] or {}),
        ids=dict(ev["ids"] or {}),
        ip=ev["ip"],
        user_agent=ev["user_agent"],
        custom=dict(ev["custom"] or {}),
        consent=verdict,
        received_at=ev["received_at"],
    )


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
        done: list[Completion] = []
        ready: list[Claimed] = []
        for c in claimed:
            if self.policy.expired(c.created_at, now):
                hours = f"{self.settings.max_age_hours:g}"
                done.append(
                    Completion(
                        c.delivery_id, "dead", "permanent", last_error=f"not delivered within {hours} hours"
                    )
                )
            else:
                ready.append(c)
        if ready:
            done += await self._deliver(name, connector, ready)
        await self._record(name, done)
        self._count(name, done)
        return len(claimed)

    async def _record(self, name: str, done: Sequence[Completion]) -> None:
        """Store outcomes, retrying a failed write briefly: a lost write means a resend after the lease."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StorageError),
            stop=stop_after_attempt(4),
            wait=wait_random_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        ):
            with attempt:
                await self.db.run(outbox.complete, self.db.engine, name, self.worker_id, done, self.clock())

    async def _deliver(self, name: str, connector: Connector, ready: Sequence[Claimed]) -> list[Completion]:
        started = time.monotonic()
        try:
            outcomes = list(await connector.deliver([to_outbound(c) for c in ready]))
            if len(outcomes) != len(ready):
                raise RetryableDeliveryError(
                    f"connector answered {len(outcomes)} outcomes for {len(ready)} events"
                )
        except AuthRejectedError as exc:
            reason = connector.mask(exc.message) if hasattr(connector, "mask") else exc.message
            await self.db.run(
                queries.pause_connector, self.db.engine, name, reason, self.config_hashes.get(name, "")
            )
            log.error("connector paused", extra={"connector": name, "reason": reason})
            return [
                Completion(
                    c.delivery_id,
                    "pending",
                    "paused",
                    self.clock(),
                    reason,
                    exc.status_code,
                    attempts_delta=-1,
                )
                for c in ready
            ]
        except (RetryableDeliveryError, PermanentDeliveryError) as exc:
            outcomes = [
                Retry(exc.message, getattr(exc, "retry_after", None), exc.status_code)
                if isinstance(exc, RetryableDeliveryError)
                else Failed(exc.message, exc.status_code)
                for _ in ready
            ]
        except Exception as exc:  # a connector bug must not lose events: retry them later
            log.exception("connector failed", extra={"connector": name})
            outcomes = [Retry(f"connector error: {type(exc).__name__}") for _ in ready]
        latency_ms = (time.monotonic() - started) * 1000
        return [self._completion(name, c, o, latency_ms) for c, o in zip(ready, outcomes, strict=True)]

    def _completion(self, name: str, c: Claimed, outcome: Outcome, latency_ms: float) -> Completion:
        now = self.clock()
        extra = {"connector": name, "delivery_id": c.delivery_id, "event_id": c.event["event_id"]}
        if isinstance(outcome, Delivered):
            self.metrics.delivery_latency.labels(name).observe(max(now - c.event["received_at"], 0))
            log.info("delivered", extra=extra)
            return Completion(
                c.delivery_id,
                "delivered",
                "delivered",
                now,
                None,
                outcome.status_code,
                outcome.response,
                latency_ms,
            )
        if isinstance(outcome, Skipped):
            return Completion(c.delivery_id, "skipped", "skipped", now, outcome.reason, attempts_delta=-1)
        if isinstance(outcome, Failed):
            log.warning("rejected", extra={**extra, "error": outcome.message})
            return Completion(
                c.delivery_id,
                "dead",
                "permanent",
                now,
                outcome.message,
                outcome.status_code,
                outcome.response,
                latency_ms,
            )
        decision = self.policy.after_failure(
            c.attempts, c.created_at, now, outcome.retry_after, outcome.message
        )
        log.info("retry", extra={**extra, "error": outcome.message, "status": decision.status})
        return Completion(
            c.delivery_id,
            decision.status,
            "retryable",
            decision.next_attempt_at,
            decision.reason or outcome.message,
            outcome.status_code,
            outcome.response,
            latency_ms,
        )

    def _count(self, name: str, done: Sequence[Completion]) -> None:
        for c in done:
            if c.outcome in ("delivered", "retryable", "permanent"):
                self.metrics.delivery_attempts.labels(name, c.outcome).inc()
            if c.status != "pending":
                self.metrics.deliveries.labels(name, c.status).inc()
