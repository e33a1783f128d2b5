"""A poisoned event among concurrent clients, through a real relay (uvicorn, SQLite file or PostgreSQL):
every good event gets its 202 and is stored; only the poisoned one is refused, with 400 invalid_event
when it was alone. Events past validation are handed to the running relay's group-commit writer, so
the storage layer's own isolation is tested whatever validation catches first."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.ingest.pipeline import Ingestor, Prepared, RequestContext
from relay.storage.outbox import NewDelivery, NewEvent
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {}
    else:
        yield {"storage": {"url": request.getfixturevalue("pg_fresh_url")}}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def past_validation(event_id: str, now: float, **kw: Any) -> NewEvent:
    ev = NewEvent(
        event_id=event_id,
        event_name="Purchase",
        event_time=int(now),
        received_at=now,
        action_source="website",
        source="events",
        deliveries=[NewDelivery("meta", "pending", "allow", "allowed")],
    )
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def poisons(dialect: str, now: float) -> list[NewEvent]:
    found = [
        past_validation("p-deep", now, custom={"x": nested(300)}),
        past_validation("p-int", now, custom={"value": 10**30}),
        past_validation("p-surrogate", now, event_name="Purchase\ud800"),
        past_validation("p-time", now, event_time=10**30),
    ]
    if dialect == "postgresql":
        found += [
            past_validation("p-nul\x00", now),
            past_validation("p-nul-url", now, event_source_url="https://shop.example/\x00"),
        ]
    return found


async def stored_ids(relay: Relay) -> set[str]:
    return {d["event_id"] for d in await relay.deliveries(connector="meta")}


async def test_poisoned_events_among_concurrent_clients(tmp_path: Path, storage: dict[str, Any]) -> None:
    async with run_relay(tmp_path, run_worker=False, **storage) as relay:
        writer, dialect = relay.intake.writer, relay.state.db.engine.dialect.name
        now = time.time()
        bad = poisons(dialect, now)
        deep = {**purchase("http-deep"), "custom": {"value": 1.0, "x": nested(300)}}
        good = [relay.post_events(purchase(f"good-{i}")) for i in range(100)]
        mixed = relay.post_events({"events": [purchase("mixed-ok"), deep]})
        alone = relay.post_events(deep)
        direct = [writer.submit([ev]) for ev in bad]
        shared = writer.submit([past_validation("shared-ok", now), *bad[:2]])
        answers = await asyncio.gather(*good, mixed, alone, *direct, shared)
        for response in answers[:100]:
            assert response.status_code == 202 and response.json() == {"accepted": 1, "rejected": []}
        mixed_answer: httpx.Response = answers[100]
        assert mixed_answer.status_code == 202
        assert mixed_answer.json()["accepted"] == 1
        assert [r["index"] for r in mixed_answer.json()["rejected"]] == [1]
        alone_answer: httpx.Response = answers[101]
        assert alone_answer.status_code == 400 and alone_answer.json()["error"] == "invalid_event"
        for results in answers[102:-1]:
            [result] = results
            assert result.rejected
        shared_results = answers[-1]
        assert [r.rejected is None for r in shared_results] == [True, False, False]
        expected = {f"good-{i}" for i in range(100)} | {"mixed-ok", "shared-ok"}
        assert await stored_ids(relay) == expected
        metrics = (await relay.client.get(f"{relay.base}/metrics")).text
        assert 'relay_events_rejected_total{reason="storage"}' not in metrics


class BuggyIngestor:
    """The real ingestor, with a bug that one event triggers."""

    def __init__(self, real: Ingestor) -> None:
        self.real = real

    def prepare(self, raw: Any, ctx: RequestContext, *, plain: bool = False) -> Prepared:
        if isinstance(raw, dict) and raw.get("event_id") == "trips-a-bug":
            raise KeyError("a bug")
        return self.real.prepare(raw, ctx, plain=plain)


async def test_a_bug_preparing_one_event_rejects_that_event_only(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        ingestor = relay.intake.ingestor  # the bug is in the running relay's own pipeline
        ingestor.prepare = BuggyIngestor(copy.copy(ingestor)).prepare  # type: ignore[method-assign]
        both = await relay.post_events({"events": [purchase("trips-a-bug"), purchase("fine")]})
        assert both.status_code == 202
        assert both.json() == {"accepted": 1, "rejected": [{"index": 0, "error": "could not be processed"}]}
        alone = await relay.post_events(purchase("trips-a-bug"))
        assert alone.status_code == 400 and alone.json()["error"] == "invalid_event"
        assert await stored_ids(relay) == {"fine"}
        metrics = (await relay.client.get(f"{relay.base}/metrics")).text
        assert 'relay_events_rejected_total{reason="invalid_event"} 2.0' in metrics
