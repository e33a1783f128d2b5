"""A third-party connector type, defined outside the relay, to prove the plugin mechanism."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from connectors.base import BaseConnector
from relay.exceptions import PayloadRejectedError, UnavailableError
from relay.settings import ConnectorSettings
from relay.types import Delivered, OutboundEvent, Outcome


class WebhookSettings(ConnectorSettings):
    type: Literal["webhook"]
    path: str = "/hook"


class WebhookConnector(BaseConnector[WebhookSettings]):
    """Posts each batch as JSON to ``api_base + path``."""

    type_name = "webhook"
    settings_model = WebhookSettings
    capabilities = frozenset({"conversions"})
    platform_max_batch = 10

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        body = [
            {"event_id": e.event_id, "event_name": e.event_name, "hashed": dict(e.hashed)} for e in events
        ]
        response = await self.request("POST", self.settings.api_base + self.settings.path, json=body)
        if response.status_code >= 500:
            raise UnavailableError(f"HTTP {response.status_code}", status_code=response.status_code)
        if response.status_code >= 400:
            raise PayloadRejectedError(response.text, status_code=response.status_code)
        return [Delivered(response.status_code, response.text[:200]) for _ in events]
