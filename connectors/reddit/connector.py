"""The ``reddit`` connector: Reddit Conversions API v3 (v2.0 is deprecated).

Errors are judged by HTTP status: 400/413/422 payload (bisected to the bad event), 401/403 auth
(the connector pauses), 429 rate limited, 408/5xx unavailable.
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
from .settings import RedditSettings

#: Reddit refuses events older than 7 days (168 hours)
MAX_AGE_DAYS = 7


class RedditConnector(PlatformConnector[RedditSettings]):
    """Sends events to ``POST /api/v3/pixels/{pixel_id}/conversion_events``."""

    type_name: ClassVar[str] = "reddit"
    settings_model: ClassVar[type[ConnectorSettings]] = RedditSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 1000
    window_days: ClassVar[float | None] = MAX_AGE_DAYS
    standard_events: ClassVar[Mapping[str, str]] = events.STANDARD_EVENTS

    @property
    def events_url(self) -> str:
        return f"{self.settings.api_base}/api/v3/pixels/{self.settings.pixel_id}/conversion_events"

    def unsendable(self, event: OutboundEvent) -> str | None:
        return None if events.matchable(event, events.user(event)) else events.NO_IDENTIFIER

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.platform_event_name(event.event_name) or event.event_name)

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
            raise p.status_error(response, "Reddit", p.detail_of(response), self.mask)
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in payloads]


__all__ = ["RedditConnector"]
