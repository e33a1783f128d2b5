"""The stored events whose content ids the catalog check reads (report time, never on ingest)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, select

from relay.storage.stored_json import as_object, readable
from relay.storage.tables import DeliveryRow, EventRow

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]


def content_rows(
    engine: Engine, connectors: Sequence[str], names: Sequence[str], since: float, until: float, limit: int
) -> Iterator[tuple[str, str, Any]]:
    """(connector, event name, custom data) of the newest ``limit`` deliveries to ``connectors`` of
    events named ``names`` received in ``[since, until)`` and not refused by consent."""
    if not connectors or not names:
        return iter(())
    e, d = events, deliveries
    stmt = (
        select(d.c.connector, e.c.event_name, readable(e.c.custom).label("custom"))
        .select_from(e.join(d, d.c.event_pk == e.c.id))
        .where(
            e.c.received_at >= since,
            e.c.received_at < until,
            e.c.event_name.in_(list(names)),
            d.c.connector.in_(list(connectors)),
            d.c.consent_decision != "deny",
        )
        .order_by(e.c.received_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [(str(r.connector), str(r.event_name), as_object(r.custom)) for r in conn.execute(stmt)]
    return iter(rows)


__all__ = ["content_rows"]
