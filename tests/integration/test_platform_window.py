"""Retries last as long as the platform accepts the event: a four-day outage of Meta, on a simulated
clock, loses nothing that is still inside Meta's seven-day window; older events go dead with the reason."""

from __future__ import annotations

import dataclasses
import time

import pytest

from relay.delivery.worker import Worker
from relay.metrics import Metrics
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.meta import FakeMeta
from relay.settings import DeliverySettings
from relay.storage import outbox, queries
from relay.storage.db import Database
from relay.storage.outbox import NewDelivery, NewEvent, SqlOutbox
from relay.storage.queries import DeliveryFilter
from tests.integration.test_worker import TOKEN, meta_connector, sha

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DAY = 86400.0
#: age of each event (days before its receipt) when the outage starts; the outage lasts 4 days
INSIDE = (0.0, 0.5, 1.0, 2.0, 2.9)  # still younger than 7 days when the platform comes back
OUTSIDE = (3.1, 4.0, 5.0, 6.5)  # their 7 days run out during the outage


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def event(age_days: float, received_at: float, action_source: str = "website") -> NewEvent:
    event_id = f"age-{age_days:g}"
    return NewEvent(
        event_id,
        "Purchase",
        int(received_at - age_days * DAY),
        received_at,
        action_source,
        "events",
        event_source_url="https://shop.example/checkout",
        user_agent="Mozilla/5.0 (test)",
        ip="203.0.113.9",
        hashed={"em": [sha(f"{event_id}@example.com")]},
        custom={"value": 10, "currency": "EUR"},
        deliveries=[NewDelivery("meta", "pending", "allow", "allowed")],
    )


def next_due(db: Database) -> float | None:
    pending = queries.list_deliveries(db.engine, DeliveryFilter(status="pending", limit=1000))
    if not pending:
        return None
    with db.engine.connect() as conn:
        ids = [d["id"] for d in pending]
        rows = conn.execute(outbox.deliveries.select().where(outbox.deliveries.c.id.in_(ids))).all()
    return min(float(r.next_attempt_at) for r in rows)


async def test_a_four_day_outage_loses_nothing_inside_the_window(db: Database) -> None:
    back_up = time.time()  # the platform answers again now, in real time (the fake checks event_time)
    clock = Clock(back_up - 4 * DAY)
    received = clock.now
    events = [event(age, received) for age in (*INSIDE, *OUTSIDE)]
    # offline conversions have 62 days: an old physical_store event survives the outage too
    events.append(dataclasses.replace(event(6.5, received, "physical_store"), event_id="store-6.5"))
    outbox.store_events(db.engine, events, received)

    fake = FakeMeta(access_token=TOKEN)
    down = ScriptedResponse(503, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    fake.script(*[down] * 5000)
    async with meta_connector(fake, in_process=True) as connector:  # hourly retries for days: not the wire
        # the default delivery settings: no max_age_hours, so Meta's own window bounds the retries
        worker = Worker(SqlOutbox(db), {"meta": connector}, DeliverySettings(), Metrics(), clock=clock)
        while clock.now < back_up:
            while await worker.run_once("meta"):
                pass
            due = next_due(db)
            assert due is not None, "every event ended before the platform came back"
            clock.now = min(max(due, clock.now + 1), back_up)
        fake._script.clear()  # the platform is back: each pending event goes at its next retry
        while (due := next_due(db)) is not None:
            clock.now = max(due, clock.now)
            while await worker.run_once("meta"):
                pass

    final = {d["event_id"]: d for d in queries.list_deliveries(db.engine, DeliveryFilter(limit=1000))}
    outage_requests = len(fake.requests)
    assert outage_requests > 50  # the outage was really retried through, about hourly
    for age in INSIDE:
        assert final[f"age-{age:g}"]["status"] == "delivered", final[f"age-{age:g}"]
    assert final["store-6.5"]["status"] == "delivered"
    for age in OUTSIDE:
        row = final[f"age-{age:g}"]
        assert row["status"] == "dead", row
        # the worker's deadline, or the connector's own check before sending (on the real clock)
        assert "7 days" in row["last_error"], row["last_error"]
    accepted = sorted(e["event_id"] for e in fake.events)
    assert accepted == sorted([*(f"age-{age:g}" for age in INSIDE), "store-6.5"])  # each once
