"""The ``pinterest`` connector: Pinterest API v5 Conversions.

Pinterest answers a batch with one status per event (``events[i].status``: ``processed`` or
``failed`` with ``error_message``), so one bad event fails alone. Whole-request errors are judged by
status: 400/413/422 payload (bisected), 401/403 auth (the connector pauses), 429 rate limited
(5,000 calls per minute per ad account), 408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from connectors import payload as p
from connectors.base import DAY, BaseConnector, clip
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, Failed, OutboundEvent, Outcome, Retry, Skipped

from . import events
from .settings import PinterestSettings

#: Pinterest takes events up to 7 days old [unverified]
MAX_AGE_DAYS = 7


class PinterestConnector(BaseConnector[PinterestSettings]):
    """Sends events to ``POST /v5/ad_accounts/{ad_account_id}/events``."""

    type_name: ClassVar[str] = "pinterest"
    settings_model: ClassVar[type[ConnectorSettings]] = PinterestSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = 1000

    @property
    def events_url(self) -> str:
        return f"{self.settings.api_base}/v5/ad_accounts/{self.settings.ad_account_id}/events"

    def secrets(self) -> Sequence[str]:
        return [self.settings.access_token.get_secret_value()]

    def pinterest_event_name(self, event_name: str) -> str | None:
        return p.event_name(self.settings.events, events.STANDARD_EVENTS, event_name, "custom")

    def skip_reason(self, event_name: str) -> str | None:
        if self.pinterest_event_name(event_name) is None:
            return f"event not mapped for {self.name} (events: {event_name}: null)"
        return None

    def acceptance_window(self, action_source: str) -> float:
        return MAX_AGE_DAYS * DAY

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        reason = self.skip_reason(event.event_name)
        if reason is None and event.consent.decision == "deny":
            reason = f"consent denied: {event.consent.reason}"
        if reason is None and event.action_source not in events.ACTION_SOURCES:
            reason = events.APP_EVENTS
        if reason is None and not events.matchable(events.user_data(event)):
            reason = events.NO_IDENTIFIER
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.pinterest_event_name(event.event_name) or "custom")

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
            raise p.classify_status(response, "Pinterest", p.detail_of(response), self.mask)
        return self._per_event(p.json_of(response), len(payloads), response.status_code)

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
                    self.mask(f"Pinterest: {answer.get('error_message') or 'failed'}"), p.MAX_MESSAGE
                )
                outcomes.append(Failed(message, status))
            elif answer.get("status") == "processed":
                warning = answer.get("warning_message")
                outcomes.append(Delivered(status, clip(self.mask(f"processed {warning or ''}".strip()), 300)))
            else:
                outcomes.append(Retry(f"Pinterest gave no status for the event: {clip(str(answer), 200)}"))
        return outcomes

    async def send_batch(self, events_: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        return await self.send_payloads([self.build(e) for e in events_])


__all__ = ["PinterestConnector"]
