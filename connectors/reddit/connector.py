"""The ``reddit`` connector: Reddit Conversions API v3 (v2.0 is deprecated).

Errors are judged by HTTP status: 400/413/422 payload (bisected to the bad event), 401/403 auth
(the connector pauses), 429 rate limited, 408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from connectors import payload as p
from connectors.base import DAY, BaseConnector, clip
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, OutboundEvent, Outcome, Skipped

from . import events
from .settings import RedditSettings

#: Reddit refuses events older than 7 days (168 hours)
MAX_AGE_DAYS = 7


class RedditConnector(BaseConnector[RedditSettings]):
    """Sends events to ``POST /api/v3/pixels/{pixel_id}/conversion_events``."""

    type_name: ClassVar[str] = "reddit"
    settings_model: ClassVar[type[ConnectorSettings]] = RedditSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 1000

    @property
    def events_url(self) -> str:
        return f"{self.settings.api_base}/api/v3/pixels/{self.settings.pixel_id}/conversion_events"

    def secrets(self) -> Sequence[str]:
        return [self.settings.access_token.get_secret_value()]

    def reddit_event_name(self, event_name: str) -> str | None:
        return p.event_name(self.settings.events, events.STANDARD_EVENTS, event_name, event_name)

    def skip_reason(self, event_name: str) -> str | None:
        if self.reddit_event_name(event_name) is None:
            return f"event not mapped for {self.name} (events: {event_name}: null)"
        return None

    def acceptance_window(self, action_source: str) -> float:
        return MAX_AGE_DAYS * DAY

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        reason = self.skip_reason(event.event_name)
        if reason is None and event.consent.decision == "deny":
            reason = f"consent denied: {event.consent.reason}"
        if reason is None and not events.matchable(event, events.user(event)):
            reason = events.NO_IDENTIFIER
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.reddit_event_name(event.event_name) or event.event_name)

    def request_body(self, payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.settings.test_id:
            data["test_id"] = self.settings.test_id
        data["events"] = list(payloads)
        return {"data": data}

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        token = self.settings.access_token.get_secret_value()
        response = await self.request(
            "POST",
            self.events_url,
            json=self.request_body(payloads),
            headers={"Authorization": f"Bearer {token}"},
        )
        if not response.is_success:
            raise p.classify_status(response, "Reddit", p.detail_of(response), self.mask)
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in payloads]

    async def send_batch(self, events_: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await self.send_payloads([self.build(e) for e in events_])


__all__ = ["RedditConnector"]
