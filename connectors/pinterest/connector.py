"""The ``pinterest`` connector: Pinterest API v5 Conversions.

Pinterest answers a batch with one status per event (``events[i].status``: ``processed`` or
``failed`` with ``error_message``), so one bad event fails alone. Whole-request errors are judged by
status: 400/413/422 payload (bisected), 401/403 auth (the connector pauses), 429 rate limited
(5,000 calls per minute per ad account), 408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from connectors.base import clip
from connectors.http import MAX_MESSAGE, json_body
from connectors.platform import PlatformConnector, RequestParts
from relay.types import Delivered, Failed, OutboundEvent, Outcome, Retry

from . import events
from .settings import PinterestSettings


class PinterestConnector(PlatformConnector[PinterestSettings]):
    """Sends events to ``POST /v5/ad_accounts/{ad_account_id}/events``."""

    type_name = "pinterest"
    settings_model = PinterestSettings
    api = events.API

    def other_event_name(self, event_name: str) -> str | None:
        return "custom"

    def unsendable(self, event: OutboundEvent) -> str | None:
        if event.action_source not in events.ACTION_SOURCES:
            return events.APP_EVENTS
        return None if events.matchable(events.user_data(event)) else events.NO_IDENTIFIER

    def request_parts(self, payloads: Sequence[Any]) -> RequestParts:
        params = {"test": "true"} if self.settings.test else None
        return {"params": params, "json": {"data": list(payloads)}, "headers": self.bearer()}

    def outcomes(self, response: httpx.Response, sent: int) -> list[Outcome]:
        """Pinterest answers one status per event: one bad event fails alone."""
        body, status = json_body(response), response.status_code
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
