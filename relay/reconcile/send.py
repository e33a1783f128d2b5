"""``--send-missing``: never-tracked orders become server-side conversions, where consent allows.

Each order goes through the normal ingest pipeline as a ``source=events`` server event (the same
path as ``POST /v1/events``): consent is decided per connector from the order's own signals, contact
details are normalised and hashed before they are stored, and ``(event_name, event_id)`` dedup
applies. An order is sent only when it carries a consent basis (a TCF, GPP or US Privacy string, or a
Google consent-mode ``G1xy`` state) and at least one connector is allowed to receive it; the others
are listed, never sent. Matched by a custom key, an order is sent only once it is older than
``reconcile.send_missing_after``. The delivery worker (``relay serve`` / ``relay worker``) delivers them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector
from relay.ingest.pipeline import Ingestor, RequestContext
from relay.metrics import Metrics
from relay.reconcile.orders import Order
from relay.settings import Settings
from relay.storage.db import Database
from relay.storage.outbox import store_events


@dataclass
class Sent:
    """What ``--send-missing`` did with each never-tracked order (order ids only)."""

    sent: list[str] = field(default_factory=list)
    no_consent_basis: list[str] = field(default_factory=list)
    consent_refused: list[str] = field(default_factory=list)
    #: younger than ``send_missing_after`` with a custom-key match: sent by a later run if still missing
    too_recent: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "no_consent_basis": self.no_consent_basis,
            "consent_refused": self.consent_refused,
            "too_recent": self.too_recent,
            "rejected": [{"order_id": o, "error": e} for o, e in self.rejected],
        }


def order_event(order: Order, event_name: str, match: str) -> dict[str, Any]:
    """The server event an order becomes: its id as ``event_id`` (and as the custom key when orders
    are matched by one), its time, value and currency, contact details and consent signals."""
    custom: dict[str, Any] = {"order_id": order.order_id}
    if match.startswith("custom."):
        custom[match.removeprefix("custom.")] = order.order_id
    if order.value is not None:
        custom["value"] = order.value
    if order.currency:
        custom["currency"] = order.currency
    return {
        "event_name": event_name,
        "event_id": order.order_id,
        "event_time": int(order.at),
        "user": dict(order.contact),
        "custom": custom,
        "consent": dict(order.consent),
    }


def send_missing(
    settings: Settings,
    db: Database,
    connectors: Mapping[str, Connector],
    orders: Sequence[Order],
    event_name: str,
    match: str,
    hold: float = 0.0,
) -> Sent:
    """Prepare and store the orders that may be sent (a blocking call: run it in the database thread).

    With a custom-key ``match``, orders younger than ``hold`` seconds are held back: the browser event of
    such an order carries its own ``event_id``, so one arriving after the order was sent would be a second
    conversion on the platform. By ``event_id`` the relay's dedup makes them one, and nothing waits."""
    out = Sent()
    ingestor = Ingestor(settings, connectors, Metrics())
    now = time.time()
    newest = now - hold if match.startswith("custom.") else math.inf
    ready = []
    for order in orders:
        if not order.consent:
            out.no_consent_basis.append(order.order_id)
            continue
        if order.at > newest:
            out.too_recent.append(order.order_id)
            continue
        batch = ingestor.prepare_batch([order_event(order, event_name, match)], RequestContext("events", now))
        if batch.rejected:
            out.rejected.append((order.order_id, str(batch.rejected[0]["error"])[:300]))
            continue
        prepared = batch.prepared[0][1].event
        if not any(d.status == "pending" for d in prepared.deliveries):
            if prepared.deliveries and all(d.decision == "deny" for d in prepared.deliveries):
                out.consent_refused.append(order.order_id)
            else:
                out.rejected.append((order.order_id, f"no enabled connector sends {event_name}"))
            continue
        ready.append((order.order_id, prepared))
    if ready:
        results = store_events(db.engine, [event for _, event in ready], now)
        for (order_id, _), result in zip(ready, results, strict=True):
            if result.rejected is None:
                out.sent.append(order_id)
            else:
                out.rejected.append((order_id, result.rejected))
    return out


__all__ = ["Sent", "order_event", "send_missing"]
