"""The ``pinterest`` connector: Pinterest API v5 Conversions.

Pinterest answers a batch with one status per event (``events[i].status``: ``processed`` or
``failed`` with ``error_message``), so one bad event fails alone. Whole-request errors are judged by
status: 400/413/422 payload (bisected), 401/403 auth (the connector pauses), 429 rate limited
(5,000 calls per minute per ad account), 408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from connectors import payload as p
from connectors.base import clip
from connectors.http import MAX_MESSAGE, json_body
from connectors.platform import PlatformConnector
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, Failed, OutboundEvent, Outcome, Retry

from . import events
from .settings import PinterestSettings

#: Pinterest takes events up to 7 days old [unverified]
MAX_AGE_DAYS = 7


class PinterestConnector(PlatformConnector[PinterestSettings]):
    """Sends events to ``POST /v5/ad_accounts/{ad_account_id}/events``."""

    type_name: ClassVar[str] = "pinterest"
    settings_model: ClassVar[type[ConnectorSettings]] = PinterestSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 1000
    window_days: ClassVar[float | None] = MAX_AGE_DAYS
    standard_events: ClassVar[Mapping[str, str]] = events.STANDARD_EVENTS

    @property
    def events_url(self) -> str:
        return f"{self.settings.api_base}/v5/ad_accounts/{self.settings.ad_account_id}/events"

    def other_event_name(self, event_name: str) -> str | None:
        return "custom"

    def unsendable(self, event: OutboundEvent) -> str | None:
        if event.action_source not in events.ACTION_SOURCES:
            return events.APP_EVENTS
        return None if events.matchable(events.user_data(event)) else events.NO_IDENTIFIER

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.platform_event_name(event.event_name) or "custom")

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        token = self.settings.access_token.get_secret_value()
        response = await self.request(
            "POST",
            self.events_url,
            params={"test": "true"} if self.settings.test else None,
            json={"data": list(payloads)},
            headers={"Authorization": f"Bearer {token}"},
        )
        if not response.is_success:
            raise p.status_error(response, "Pinterest", p.detail_of(response), self.mask)
        return self._per_event(json_body(response), len(payloads), response.status_code)

    def _per_event(self, body: Any, sent: int, status: int) -> list[Outcome]:
        answers = body.get("events") if isinstance(body, dict) else None
        if not isinstance(answers, list) or len(answers) != sent:
            # no per-event answer to read: the request as a whole was accepted
            return [Delivered(status, clip(self.mask(str(body)), 300)) for _ in range(sent)]
        outcomes: list[Outcome] = []
        for answer in answers:
            answer = answer if isinstance(answer, dict) else {}
            if answer.get("status") == "failed":
                message = clip(
                    self.mask(f"Pinterest: {answer.get('error_message') or 'failed'}"), MAX_MESSAGE
                )
                outcomes.append(Failed(message, status))
            elif answer.get("status") == "processed":
                warning = answer.get("warning_message")
                outcomes.append(Delivered(status, clip(self.mask(f"processed {warning or ''}".strip()), 300)))
            else:
                outcomes.append(Retry(f"Pinterest gave no status for the event: {clip(str(answer), 200)}"))
        return outcomes


__all__ = ["PinterestConnector"]
