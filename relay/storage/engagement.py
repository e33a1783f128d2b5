"""The stored engagement of a page view (``PageEngagement``'s numbers), for the sandbox shop's panel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from relay.engagement import ENGAGED_SECONDS, EVENT, SCROLL_DEPTH
from relay.storage.lease import events
from relay.storage.stored_json import as_object, readable


def page_engagement(engine: Engine, event_id: str) -> dict[str, Any] | None:
    """``{engaged_seconds, scroll_depth}`` of the engagement event ``event_id``; None for another event."""
    e = events
    stmt = select(readable(e.c.custom)).where(e.c.event_id == event_id, e.c.event_name == EVENT).limit(1)
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    custom = as_object(row[0])
    return {key: custom.get(key) for key in (ENGAGED_SECONDS, SCROLL_DEPTH)}


__all__ = ["page_engagement"]
