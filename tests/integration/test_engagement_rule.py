"""Events rules with engagement conditions on real databases (SQLite and PostgreSQL): the numbers come
from the event's own ``custom`` or from the ``PageEngagement`` of its page view; stored values that are
not numbers (or not lists) never match and never fail the query."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import update

from relay.audiences import SyncOptions, sync_audience
from relay.storage import outbox
from relay.storage.lease import events
from relay.storage.outbox import NewDelivery, NewEvent
from tests.integration.test_audience_sources import DESTINATIONS, email, event
from tests.integration.test_audience_sync import World, meta_emails, sha, world, x_emails

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
__all__ = ["world"]
FAST = SyncOptions(attempts=1)


def engaged(page: list[str], seconds: Any, depth: Any = 50, *, age: float = 30) -> NewEvent:
    """The snippet's PageEngagement for the page view whose events are ``page`` (stored, skipped for
    every connector: no connector has send_engagement)."""
    now = time.time()
    skipped = "engagement not sent (send_engagement: false)"
    return NewEvent(
        event_id=f"{page[0]}:engagement",
        event_name="PageEngagement",
        event_time=int(now - age),
        received_at=now - age,
        action_source="website",
        source="collect",
        custom={"engaged_seconds": seconds, "scroll_depth": depth, "page_event_ids": page},
        deliveries=[
            NewDelivery("meta", "skipped", "allow", "test", last_error=skipped),
            NewDelivery("x", "skipped", "allow", "test", last_error=skipped),
        ],
    )


def viewed(person: str, event_id: str, name: str = "ViewContent", **kw: Any) -> NewEvent:
    """``person``'s event with a known id, as the snippet lists it in its page view's engagement."""
    ev = event(name, email(person), **kw)
    ev.event_id = event_id
    return ev


def rule(*include: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    source = {"type": "events", "include": list(include), "exclude": list(exclude), "window": "7d"}
    return {"engaged": {"source": source, "destinations": DESTINATIONS}}


async def test_engaged_seconds_from_the_page_view_or_the_event_itself(world: World) -> None:
    async with world.env(rule("ViewContent with engaged_seconds >= 30")) as env:
        outbox.store_events(
            env.db.engine,
            [
                viewed("ann", "vc-ann"),
                engaged(["pv-ann", "vc-ann"], 45),  # ann read the product page 45 s: in
                viewed("bob", "vc-bob"),
                engaged(["pv-bob", "vc-bob"], 12),  # 12 s: out
                viewed("cy", "vc-cy", x="deny"),
                engaged(["pv-cy", "vc-cy"], 30),  # exactly 30: in, but X may not use cy's data
                viewed("dee", "vc-dee"),
                engaged(["pv-dee-other"], 90),  # engaged on another page view: dee is out
                viewed("eve", "vc-eve"),
                engaged(["pv-eve", "vc-eve"], 60, age=9 * 86400),  # before the window: out
            ],
            time.time(),
        )
        own = event("ViewContent", email("fay"))
        own.custom = {"engaged_seconds": 31}  # a site sending the number with the event itself
        outbox.store_events(env.db.engine, [own], time.time())

        run = await sync_audience(env, "engaged", FAST)
        assert run.status == "ok", run
        assert meta_emails(world.meta) == {sha(f"{p}@example.com") for p in ("ann", "cy", "fay")}
        assert x_emails(world.x) == {sha(f"{p}@example.com") for p in ("ann", "fay")}


async def test_several_conditions_plain_names_and_excluded_engagement(world: World) -> None:
    audiences = rule(
        "ViewContent with engaged_seconds > 10 and scroll_depth >= 75",
        "Lead",
        exclude=("AddToCart with engaged_seconds < 5",),
    )
    async with world.env(audiences) as env:
        outbox.store_events(
            env.db.engine,
            [
                viewed("ann", "vc-ann"),
                engaged(["pv-ann", "vc-ann"], 20, 80),  # both met: in
                viewed("bob", "vc-bob"),
                engaged(["pv-bob", "vc-bob"], 20, 40),  # shallow: out
                event("Lead", email("cy")),  # a plain name still works
                viewed("dee", "vc-dee"),
                engaged(["pv-dee", "vc-dee"], 25, 100),
                viewed("dee", "atc-dee", "AddToCart"),  # dee's cart page...
                engaged(["pv-dee-2", "atc-dee"], 2, 10),  # ...was left within 2 s: excluded
            ],
            time.time(),
        )
        run = await sync_audience(env, "engaged", FAST)
        assert run.status == "ok", run
        assert meta_emails(world.meta) == {sha("ann@example.com"), sha("cy@example.com")}
        assert run.sources["meta"].excluded == 1


async def test_values_that_are_not_numbers_never_match_nor_fail(world: World) -> None:
    async with world.env(rule("ViewContent with engaged_seconds >= 30")) as env:
        outbox.store_events(
            env.db.engine,
            [
                viewed("ann", "vc-ann"),
                engaged(["pv-ann", "vc-ann"], 45),
                viewed("bob", "vc-bob"),
                engaged(["pv-bob", "vc-bob"], 45),
                viewed("cy", "vc-cy"),
                engaged(["pv-cy", "vc-cy"], 45),
            ],
            time.time(),
        )
        # rows stored before today's validation, or by hand: text, and a list that is not one
        with env.db.engine.begin() as conn:
            bad_number = {"engaged_seconds": "45", "scroll_depth": 50, "page_event_ids": ["pv-bob", "vc-bob"]}
            conn.execute(
                update(events).where(events.c.event_id == "pv-bob:engagement").values(custom=bad_number)
            )
            bad_list = {"engaged_seconds": 45, "page_event_ids": "vc-cy"}
            conn.execute(
                update(events).where(events.c.event_id == "pv-cy:engagement").values(custom=bad_list)
            )
        run = await sync_audience(env, "engaged", FAST)
        assert run.status == "ok", run
        assert meta_emails(world.meta) == {sha("ann@example.com")}
