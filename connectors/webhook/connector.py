"""The ``webhook`` connector: the escape hatch for every platform without a built-in connector."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from connectors.base import BaseConnector, clip
from connectors.http import classify_status
from relay.exceptions import DeliveryError, PermanentDeliveryError
from relay.settings import ConnectorSettings
from relay.types import Capability, Delivered, OutboundEvent, Outcome, Skipped

from .payload import to_canonical
from .settings import MAX_BATCH, WebhookSettings
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

#: a receiver's 423 (Locked) is a permanent refusal, as every 4xx but 401, 403, 408, 425 and 429
STATUS_KINDS: dict[int, type[DeliveryError]] = {423: PermanentDeliveryError}


class WebhookConnector(BaseConnector[WebhookSettings]):
    """POSTs signed batches of canonical events; 2xx delivered, 4xx dead (401/403 pause, 429 retried),
    5xx and timeouts retried."""

    type_name: ClassVar[str] = "webhook"
    settings_model: ClassVar[type[ConnectorSettings]] = WebhookSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions"})
    platform_max_batch: ClassVar[int] = MAX_BATCH

    def secrets(self) -> Sequence[str]:
        return self.settings.secret_values()

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        if event.consent.decision == "deny":
            return Skipped(f"consent denied: {event.consent.reason}")
        return None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return to_canonical(event)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Every call carries the configured ``timeout_seconds``."""
        kwargs.setdefault("timeout", self.settings.timeout_seconds)
        return await super().request(method, url, **kwargs)

    def signed(self, body: bytes, now: float | None = None) -> dict[str, str]:
        """The headers of one request: the configured ones, then the timestamp and signature."""
        timestamp = int(time.time() if now is None else now)
        headers = {name: value.get_secret_value() for name, value in self.settings.headers.items()}
        headers |= {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.settings.secret.get_secret_value(), timestamp, body),
        }
        return headers

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        body = json.dumps({"events": list(payloads)}, separators=(",", ":"), ensure_ascii=False).encode()
        response = await self.request("POST", self.settings.url, content=body, headers=self.signed(body))
        status = response.status_code
        if 200 <= status < 300:
            summary = clip(self.mask(response.text), 300) if response.text else f"{status}"
            return [Delivered(status, summary) for _ in payloads]
        message = clip(self.mask(f"webhook answered {status}: {response.text}"), 500)
        error = classify_status(status, message, response.headers, kind=STATUS_KINDS.get(status))
        raise error or PermanentDeliveryError(message, status_code=status)


__all__ = ["WebhookConnector"]
