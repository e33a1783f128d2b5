"""The delivery worker on the in-memory outbox with a scripted fake connector: no database, no HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from relay.delivery.attempt import BUG_CALLS
from relay.delivery.worker import PAUSED_CHECK_SECONDS, Worker
from relay.exceptions import AuthRejectedError
from relay.metrics import Metrics
from relay.settings import ConnectorSettings, DeliverySettings
from relay.storage.memory import MemoryOutbox
from relay.storage.outbox import NewDelivery, NewEvent
from relay.types import (
    AttemptOutcome,
    Delivered,
    DeliveryStatus,
    Failed,
    OutboundEvent,
    Outcome,
    Retry,
    Skipped,
)

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

NOW = 1_700_000_000.0
FAST = DeliverySettings(poll_interval_ms=10, backoff_base_seconds=10, backoff_max_seconds=100)


class FakeConnector:
    """Answers each event by a script keyed by event id (default: delivered); records what it sent."""

    type_name: ClassVar[str] = "fake"
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    capabilities: ClassVar[frozenset[str]] = frozenset({"conversions"})

    def __init__(self, script: dict[str, Callable[[], Outcome]] | None = None, *, delay: float = 0.0) -> None:
        self.name = "fake"
        self.settings = ConnectorSettings(type="fake", api_base="http://unused")
        self.script = script or {}
        self.delay = delay
        self.batches: list[list[str]] = []
        self.acknowledged: list[str] = []
        self.raise_for: set[str] = set()
        self.auth_refused = False

    @property
    def max_batch(self) -> int:
        return 100

    def skip_reason(self, event_name: str) -> str | None:
        return None

    async def deliver(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        ids = [e.event_id for e in events]
        self.batches.append(ids)
        if self.auth_refused:
            raise AuthRejectedError("token revoked", status_code=401)
        if self.raise_for & set(ids):
            raise KeyError("a bug in the connector")
        if self.delay:
            await asyncio.sleep(self.delay)
        outcomes = [self.script.get(i, lambda: Delivered(200, '{"ok":1}'))() for i in ids]
        self.acknowledged += [i for i, o in zip(ids, outcomes, strict=True) if isinstance(o, Delivered)]
        return outcomes

    async def aclose(self) -> None:
        return None

    @property
    def sent(self) -> list[str]:
        return [i for batch in self.batches for i in batch]


def event(event_id: str, received_at: float = NOW) -> NewEvent:
    delivery = NewDelivery("fake", DeliveryStatus.PENDING, "allow", "allowed")
    return NewEvent(
        event_id, "Purchase", int(received_at), received_at, "website", "events", deliveries=[delivery]
    )


class Clock:
    def __init__(self, at: float = NOW) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def worker(
    box: MemoryOutbox, connector: FakeConnector, settings: DeliverySettings = FAST, **kw: Any
) -> Worker:
    return Worker(box, {"fake": connector}, settings, Metrics(), **kw)  # type: ignore[dict-item]


def status(box: MemoryOutbox, event_id: str) -> DeliveryStatus:
    [d] = box.of_event(event_id)
    return d.status


async def test_a_batch_is_delivered_and_recorded() -> None:
    box, connector, clock = MemoryOutbox(), FakeConnector(), Clock()
    await box.store([event(f"e{i}") for i in range(3)], NOW)
    assert await worker(box, connector, clock=clock).run_once("fake") == 3
    assert connector.batches == [["e0", "e1", "e2"]]
    assert all(status(box, f"e{i}") is DeliveryStatus.DELIVERED for i in range(3))
    assert [a.outcome for a in box.attempts] == [AttemptOutcome.DELIVERED] * 3
    assert box.states["fake"]["last_success_at"] == NOW
    assert await worker(box, connector, clock=clock).run_once("fake") == 0  # nothing left


async def test_a_retry_waits_for_its_backoff_then_delivers() -> None:
    answers = iter([Retry("HTTP 503", status_code=503), Delivered(200)])
    box, clock = MemoryOutbox(), Clock()
    connector = FakeConnector({"r": lambda: next(answers)})
    w = worker(box, connector, clock=clock)
    await box.store([event("r")], NOW)
    assert await w.run_once("fake") == 1
    [d] = box.of_event("r")
    # backoff_base_seconds ±20 % jitter
    assert d.status is DeliveryStatus.PENDING and NOW + 8 <= d.next_attempt_at <= NOW + 12
    assert d.last_error == "HTTP 503" and box.states["fake"]["last_error"] == "HTTP 503"
    clock.at = NOW + 7.9
    assert await w.run_once("fake") == 0  # not due yet
    clock.at = d.next_attempt_at
    assert await w.run_once("fake") == 1
    assert d.status is DeliveryStatus.DELIVERED and d.attempts == 2
    assert [a.outcome for a in box.attempts] == [AttemptOutcome.RETRYABLE, AttemptOutcome.DELIVERED]


async def test_retry_after_is_honoured() -> None:
    box, clock = MemoryOutbox(), Clock()
    connector = FakeConnector({"r": lambda: Retry("throttled", retry_after=90, status_code=429)})
    await box.store([event("r")], NOW)
    await worker(box, connector, clock=clock).run_once("fake")
    [d] = box.of_event("r")
    assert d.status is DeliveryStatus.PENDING and d.next_attempt_at >= NOW + 90


async def test_dead_after_the_deadline_without_sending() -> None:
    box, connector = MemoryOutbox(), FakeConnector()
    settings = FAST.model_copy(update={"max_age_hours": 1.0})
    await box.store([event("old")], NOW)
    assert await worker(box, connector, settings, clock=Clock(NOW + 3601)).run_once("fake") == 1
    [d] = box.of_event("old")
    assert d.status is DeliveryStatus.DEAD and d.last_error == "not delivered within 1 hours"
    assert connector.batches == []


async def test_a_retry_past_the_deadline_gets_a_last_try_then_dies() -> None:
    box, clock = MemoryOutbox(), Clock()
    connector = FakeConnector({"r": lambda: Retry("HTTP 500", status_code=500)})
    settings = FAST.model_copy(
        update={"max_age_hours": 1.0, "backoff_base_seconds": 7200, "backoff_max_seconds": 7200}
    )
    w = worker(box, connector, settings, clock=clock)
    await box.store([event("r")], NOW)
    await w.run_once("fake")
    [d] = box.of_event("r")
    assert d.status is DeliveryStatus.PENDING and d.next_attempt_at == NOW + 3600 - 60  # the last try
    clock.at = d.next_attempt_at
    await w.run_once("fake")
    assert d.status is DeliveryStatus.DEAD and "not delivered within 1 hours: HTTP 500" in (
        d.last_error or ""
    )


async def test_a_permanent_failure_and_a_bad_event_stay_with_their_event() -> None:
    box = MemoryOutbox()
    connector = FakeConnector({"refused": lambda: Failed("invalid parameter", 400)})
    connector.raise_for = {"bug"}
    await box.store([event(i) for i in ("a", "refused", "bug", "b", "c")], NOW)
    assert await worker(box, connector, clock=Clock()).run_once("fake") == 5
    assert status(box, "refused") is DeliveryStatus.DEAD and status(box, "bug") is DeliveryStatus.DEAD
    [bug] = box.of_event("bug")
    assert (bug.last_error or "").startswith("connector error: KeyError")
    assert all(status(box, i) is DeliveryStatus.DELIVERED for i in ("a", "b", "c"))
    assert sorted(connector.acknowledged) == ["a", "b", "c"]  # each delivered once
    assert len(connector.batches) < 10  # bisected, not one by one


async def test_a_bug_every_event_hits_costs_a_bounded_number_of_calls_and_loses_nothing() -> None:
    """Halving a 100-event batch down to every single event would take about 200 calls (each maybe a
    request): the batch spends at most BUG_CALLS; the events isolated by then fail alone, the others
    are retried later (not failed: a fixed connector delivers them)."""
    box, connector = MemoryOutbox(), FakeConnector()
    ids = [f"e{i:03}" for i in range(100)]
    connector.raise_for = set(ids)
    await box.store([event(i) for i in ids], NOW)
    assert await worker(box, connector, clock=Clock()).run_once("fake") == 100
    assert len(connector.batches) <= BUG_CALLS + 1
    statuses = [status(box, i) for i in ids]
    dead = [i for i, s in zip(ids, statuses, strict=True) if s is DeliveryStatus.DEAD]
    waiting = [i for i, s in zip(ids, statuses, strict=True) if s is DeliveryStatus.PENDING]
    assert dead and waiting and len(dead) + len(waiting) == 100
    [later] = box.of_event(waiting[0])
    assert "not isolated on this attempt" in (later.last_error or "")
    connector.raise_for = set()  # the connector is fixed: what waited is delivered
    clock = Clock(NOW + 3600)
    while await worker(box, connector, clock=clock).run_once("fake"):
        pass
    assert all(status(box, i) is DeliveryStatus.DELIVERED for i in waiting)


async def test_the_lease_is_renewed_while_the_platform_is_slow() -> None:
    box = MemoryOutbox()
    connector = FakeConnector(delay=0.6)
    settings = FAST.model_copy(update={"lease_seconds": 0.15})
    await box.store([event("slow")], time.time())
    w = worker(box, connector, settings)
    task = asyncio.create_task(w.run_once("fake"))
    await asyncio.sleep(0.4)  # more than two leases
    assert not task.done()
    other = await box.claim("fake", limit=10, now=time.time(), lease_seconds=1, worker_id="other")
    assert other == []  # renewed: nobody takes the batch over
    [d] = box.of_event("slow")
    assert d.worker_id == w.worker_id and (d.lease_until or 0) > time.time()
    assert await task == 1
    assert d.status is DeliveryStatus.DELIVERED and d.attempts == 1


@pytest.mark.parametrize("told", [False, True], ids=["resumed-elsewhere", "resumed-here"])
async def test_refused_credentials_pause_the_connector_and_the_event_waits(told: bool) -> None:
    """A resume by another process (the CLI) is read within ``PAUSED_CHECK_SECONDS``; one the worker is
    told of (the dashboard of its own process) at the next claim."""
    box, connector = MemoryOutbox(), FakeConnector()
    connector.auth_refused = True
    await box.store([event("p1"), event("p2")], time.time())
    w = worker(box, connector)
    task = asyncio.create_task(w.run())
    await asyncio.sleep(0.2)
    assert await box.paused("fake") and box.states["fake"]["reason"] == "token revoked"
    assert len(connector.batches) == 1  # paused: nothing more is claimed
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in box.deliveries.values())
    connector.auth_refused = False
    assert box.resume("fake")
    resumed = time.monotonic()
    if told:
        w.resumed("fake")
    while any(d.status is not DeliveryStatus.DELIVERED for d in box.deliveries.values()):
        assert time.monotonic() - resumed < 5
        await asyncio.sleep(0.01)
    waited = time.monotonic() - resumed
    assert waited < PAUSED_CHECK_SECONDS / 2 if told else waited > PAUSED_CHECK_SECONDS / 2, waited
    w.stop()
    await asyncio.wait_for(task, 5)


class Odd:
    """Not an outcome at all."""


BUG = "connector bug: an outcome that is a"


@pytest.mark.parametrize(
    "answer, expected_status, expected_error",
    [
        (lambda: Retry("throttled", retry_after="soon"), DeliveryStatus.PENDING, "throttled"),  # type: ignore[arg-type]
        (lambda: Retry("throttled", retry_after=float("nan")), DeliveryStatus.PENDING, "throttled"),
        (lambda: Retry("throttled", retry_after=-5), DeliveryStatus.PENDING, "throttled"),
        (lambda: Delivered(status_code="200", response={"ok": 1}), DeliveryStatus.DELIVERED, None),  # type: ignore[arg-type]
        (lambda: Failed(b"refused"), DeliveryStatus.DEAD, f"{BUG} Failed with a bytes message"),  # type: ignore[arg-type]
        (lambda: Skipped(None), DeliveryStatus.SKIPPED, f"{BUG} Skipped with a NoneType reason"),  # type: ignore[arg-type]
        (lambda: None, DeliveryStatus.DEAD, f"{BUG} NoneType, not Delivered"),
        (Odd, DeliveryStatus.DEAD, f"{BUG} Odd, not Delivered"),
    ],
)  # fmt: skip
async def test_an_outcome_the_worker_cannot_record_fails_its_event_alone(
    answer: Callable[[], Any], expected_status: DeliveryStatus, expected_error: str | None
) -> None:
    """A plugin answering one event with something that is not a readable outcome (a retry_after that is
    not a number of seconds, a status code as text, not an outcome at all) costs that event only: the
    batch's other outcomes are recorded on this run, and nothing is sent twice."""
    box, clock = MemoryOutbox(), Clock()
    connector = FakeConnector({"odd": answer})
    await box.store([event("a"), event("odd"), event("b")], NOW)
    assert await worker(box, connector, clock=clock).run_once("fake") == 3
    assert status(box, "a") is status(box, "b") is DeliveryStatus.DELIVERED
    [d] = box.of_event("odd")
    assert d.status is expected_status
    assert d.last_error is None if expected_error is None else (d.last_error or "").startswith(expected_error)
    if expected_status is DeliveryStatus.PENDING:  # the policy's own backoff, the odd Retry-After ignored
        assert NOW + 8 <= d.next_attempt_at <= NOW + 12
    assert connector.sent == ["a", "odd", "b"]
    assert await worker(box, connector, clock=clock).run_once("fake") == 0  # nothing claimed again
