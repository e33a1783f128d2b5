"""The ``snap`` connector: Snapchat Conversions API v3.

Errors are judged by HTTP status (Snap's own error codes are not documented publicly): 400/413/422
payload (bisected to the bad event), 401/403 auth (the connector pauses), 429 rate limited,
408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.platform import PlatformConnector, RequestParts
from relay.types import OutboundEvent

from . import events
from .settings import SnapSettings


class SnapConnector(PlatformConnector[SnapSettings]):
    """Sends events to ``POST /v3/{pixel_id}/events?access_token=...``."""

    type_name = "snap"
    settings_model = SnapSettings
    api = events.API

    @property
    def events_url(self) -> str:
        return super().events_url + ("/validate" if self.settings.validate_only else "")

    def other_event_name(self, event_name: str) -> str | None:
        return None  # Snap takes only its standard events

    def skip_reason(self, event_name: str) -> str | None:
        if self.platform_event_name(event_name) is None:
            return f"no Snap event for {event_name!r}: map it under events (or null to never send)"
        return None

    def unsendable(self, event: OutboundEvent) -> str | None:
        return None if events.matchable(events.user_data(event)) else events.NO_IDENTIFIER

    def request_parts(self, payloads: Sequence[Any]) -> RequestParts:
        token = self.settings.access_token.get_secret_value()
        return {"params": {"access_token": token}, "json": {"data": list(payloads)}}


__all__ = ["SnapConnector"]
