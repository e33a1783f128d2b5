"""The canonical event as the webhook receives it (``POST <url>`` with ``{"events": [...]}``).

================  ===========================================================================
field             content
================  ===========================================================================
``event_id``      the relay's stable id (the receiver's dedup key: delivery is at least once)
``event_name``    as received (``Purchase``, ``Lead`` ...)
``event_time``    Unix seconds
``action_source`` ``website``, ``app``, ...
``event_source_url``, ``referrer_url``, ``opt_out``
``user.hashed``   contact details, each a list of SHA-256 hex digests (keys ``em``, ``ph``,
                  ``ph_e164``, ``fn``, ``ln``, ``ct``, ``st``, ``zp``, ``country``, ``external_id`` ...);
                  never raw contact details
``user.ids``      device and click ids as captured (``fbp``, ``gclid``, ``li_fat_id`` ...)
``user.ip``, ``user.user_agent``
``custom``        the event's custom data (value, currency, contents ...)
``consent``       the relay's verdict for this webhook: ``decision`` (allow / limited), ``reason``,
                  ``mode`` (``strip`` / ``ldu`` / null)
================  ===========================================================================
"""

from __future__ import annotations

from typing import Any

from connectors.hashes import hashes
from relay.types import OutboundEvent


def _hashed(event: OutboundEvent) -> dict[str, list[str]]:
    """Only digests: a value that is not a SHA-256 hex digest is never forwarded."""
    out: dict[str, list[str]] = {}
    for key, values in event.hashed.items():
        digests = hashes(values, appendix=False)
        if digests:
            out[key] = digests
    return out


def to_canonical(event: OutboundEvent) -> dict[str, Any]:
    """One element of ``events``."""
    verdict = event.consent
    return {
        "event_id": event.event_id,
        "event_name": event.event_name,
        "event_time": int(event.event_time),
        "action_source": event.action_source,
        "event_source_url": event.event_source_url,
        "referrer_url": event.referrer_url,
        "opt_out": event.opt_out,
        "user": {
            "hashed": _hashed(event),
            "ids": {k: v for k, v in event.ids.items() if v},
            "ip": event.ip,
            "user_agent": event.user_agent,
        },
        "custom": dict(event.custom),
        "consent": {"decision": verdict.decision, "reason": verdict.reason, "mode": verdict.mode},
    }


__all__ = ["to_canonical"]
