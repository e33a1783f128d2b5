"""The ``reddit`` connector: Reddit Conversions API v3 (v2.0 is deprecated).

Errors are judged by HTTP status: 400/413/422 payload (bisected to the bad event), 401/403 auth
(the connector pauses), 429 rate limited, 408/5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.platform import PlatformConnector, RequestParts
from relay.types import OutboundEvent

from . import events
from .settings import RedditSettings


class RedditConnector(PlatformConnector[RedditSettings]):
    """Sends events to ``POST /api/v3/pixels/{pixel_id}/conversion_events``."""

    type_name = "reddit"
    settings_model = RedditSettings
    api = events.API

    def unsendable(self, event: OutboundEvent) -> str | None:
        return None if events.matchable(event, events.user(event)) else events.NO_IDENTIFIER

    def request_body(self, payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.settings.test_id:
            data["test_id"] = self.settings.test_id
        data["events"] = list(payloads)
        return {"data": data}

    def request_parts(self, payloads: Sequence[Any]) -> RequestParts:
        return {"json": self.request_body(payloads), "headers": self.bearer()}


__all__ = ["RedditConnector"]
