"""The ``snap`` connector: Snapchat Conversions API v3.

Errors are judged by HTTP status (Snap's own error codes are not documented publicly): 400/413/422
payload (bisected to the bad event), 401/403 auth (the connector pauses), 429 rate limited,
408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from connectors import payload as p
from connectors.base import DAY, BaseConnector, clip
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, OutboundEvent, Outcome, Skipped

from . import events
from .settings import SnapSettings

#: Snap takes web events up to 7 days old [unverified]
MAX_AGE_DAYS = 7


class SnapConnector(BaseConnector[SnapSettings]):
    """Sends events to ``POST /v3/{pixel_id}/events?access_token=...``."""

    type_name: ClassVar[str] = "snap"
    settings_model: ClassVar[type[ConnectorSettings]] = SnapSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 2000

    @property
    def events_url(self) -> str:
        suffix = "/validate" if self.settings.validate_only else ""
        return f"{self.settings.api_base}/v3/{self.settings.pixel_id}/events{suffix}"

    def secrets(self) -> Sequence[str]:
        return [self.settings.access_token.get_secret_value()]

    def snap_event_name(self, event_name: str) -> str | None:
        return p.event_name(self.settings.events, events.STANDARD_EVENTS, event_name, None)

    def skip_reason(self, event_name: str) -> str | None:
        if self.snap_event_name(event_name) is None:
            return f"no Snap event for {event_name!r}: map it under events (or null to never send)"
        return None

    def acceptance_window(self, action_source: str) -> float:
        return MAX_AGE_DAYS * DAY

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        reason = self.skip_reason(event.event_name)
        if reason is None and event.consent.decision == "deny":
            reason = f"consent denied: {event.consent.reason}"
        if reason is None and not events.matchable(events.user_data(event)):
            reason = events.NO_IDENTIFIER
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.snap_event_name(event.event_name) or event.event_name)

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        response = await self.request(
            "POST",
            self.events_url,
            params={"access_token": self.settings.access_token.get_secret_value()},
            json={"data": list(payloads)},
        )
        if not response.is_success:
            raise p.classify_status(response, "Snap", p.detail_of(response), self.mask)
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in payloads]

    async def send_batch(self, events_: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await self.send_payloads([self.build(e) for e in events_])


__all__ = ["SnapConnector"]
