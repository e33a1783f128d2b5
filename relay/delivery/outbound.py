"""A claimed delivery as its connector sees it."""

from __future__ import annotations

from relay.storage.outbox import Claimed
from relay.types import ConsentVerdict, OutboundEvent


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


__all__ = ["to_outbound"]
