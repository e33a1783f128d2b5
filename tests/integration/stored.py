"""The stored event shared by the integration tests that read events back (dashboard reports, results,
reconciliation): one event with its deliveries written straight into the tables (the migrated database
is the ``db`` fixture of ``conftest.py``)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import insert

from relay.storage.db import Database
from relay.storage.tables import DeliveryRow, EventRow

events = EventRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
_numbers = itertools.count(1)


def store_event(db: Database, at: float, *rows: dict[str, Any], **fields: Any) -> int:
    """One event received at ``at`` (``fields`` override its columns; its id is ``ev-<n>`` unless
    given) and a delivery per ``rows`` (``connector``, ``status``, ``decision``, any other delivery
    column); returns its key."""
    row = {
        "event_id": f"ev-{next(_numbers)}",
        "event_name": "Purchase",
        "event_time": int(at),
        "received_at": at,
        "action_source": "website",
        "source": "events",
        "opt_out": False,
        "hashed": {},
        "ids": {},
        "custom": {},
        "consent": {},
        "pii_purged": False,
        **fields,
    }
    with db.engine.begin() as conn:
        pk: int = conn.execute(insert(events).values(**row)).inserted_primary_key[0]
        for d in rows:
            extra = {k: v for k, v in d.items() if k not in ("connector", "status", "decision")}
            conn.execute(
                insert(deliveries).values(
                    event_pk=pk,
                    connector=d.get("connector", "meta"),
                    status=d.get("status", "pending"),
                    attempts=1,
                    next_attempt_at=at,
                    consent_decision=d.get("decision", "allow"),
                    consent_reason="test",
                    created_at=at,
                    updated_at=at,
                    **extra,
                )
            )
    return pk
