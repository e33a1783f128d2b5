"""The ``snap`` connector: Snapchat Conversions API v3.

Errors are judged by HTTP status (Snap's own error codes are not documented publicly): 400/413/422
payload (bisected to the bad event), 401/403 auth (the connector pauses), 429 rate limited,
408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from connectors import payload as p
from connectors.base import clip
from connectors.platform import PlatformConnector
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, OutboundEvent, Outcome

from . import events
from .settings import SnapSettings

#: Snap takes web events up to 7 days old [unverified]
MAX_AGE_DAYS = 7


class SnapConnector(PlatformConnector[SnapSettings]):
    """Sends events to ``POST /v3/{pixel_id}/events?access_token=...``."""

    type_name: ClassVar[str] = "snap"
    settings_model: ClassVar[type[ConnectorSettings]] = SnapSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 2000
    window_days: ClassVar[float | None] = MAX_AGE_DAYS
    standard_events: ClassVar[Mapping[str, str]] = events.STANDARD_EVENTS

    @property
    def events_url(self) -> str:
        suffix = "/validate" if self.settings.validate_only else ""
        return f"{self.settings.api_base}/v3/{self.settings.pixel_id}/events{suffix}"

    def other_event_name(self, event_name: str) -> str | None:
        return None  # Snap takes only its standard events

    def skip_reason(self, event_name: str) -> str | None:
        if self.platform_event_name(event_name) is None:
            return f"no Snap event for {event_name!r}: map it under events (or null to never send)"
        return None

    def unsendable(self, event: OutboundEvent) -> str | None:
        return None if events.matchable(events.user_data(event)) else events.NO_IDENTIFIER

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.platform_event_name(event.event_name) or event.event_name)

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        response = await self.request(
            "POST",
            self.events_url,
            params={"access_token": self.settings.access_token.get_secret_value()},
            json={"data": list(payloads)},
        )
        if not response.is_success:
            raise p.status_error(response, "Snap", p.detail_of(response), self.mask)
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in payloads]


__all__ = ["SnapConnector"]
