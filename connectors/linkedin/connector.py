"""The ``linkedin`` connector: LinkedIn Conversions API (``POST /rest/conversionEvents``, BATCH_CREATE)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from connectors.base import clip
from connectors.http import json_body
from connectors.platform import PlatformApi, PlatformConnector
from relay.exceptions import RetryableDeliveryError
from relay.types import Delivered, Failed, OutboundEvent, Outcome, Retry

from .errors import classify, describe, status_kind
from .mapping import NO_IDENTIFIER, no_rule_reason, to_element, user_ids
from .settings import LinkedInSettings

log = logging.getLogger("relay.connectors.linkedin")
#: LinkedIn refuses conversions that happened more than 90 days ago
WINDOW_DAYS = 90


class LinkedInConnector(PlatformConnector[LinkedInSettings]):
    """Delivers conversions to LinkedIn, up to 5,000 per BATCH_CREATE request."""

    type_name = "linkedin"
    settings_model = LinkedInSettings
    api = PlatformApi("LinkedIn", "/rest/conversionEvents", max_batch=5000, window_days=WINDOW_DAYS)

    def headers(self) -> dict[str, str]:
        """The headers of a BATCH_CREATE call (LinkedIn's dated version and Rest.li protocol)."""
        return {
            "Authorization": f"Bearer {self.settings.access_token.get_secret_value()}",
            "LinkedIn-Version": self.settings.api_version,
            "X-Restli-Protocol-Version": "2.0.0",
            "X-RestLi-Method": "BATCH_CREATE",
            "Content-Type": "application/json",
        }

    def skip_reason(self, event_name: str) -> str | None:
        return None if self.settings.conversion_urn(event_name) else no_rule_reason(event_name)

    def unsendable(self, event: OutboundEvent) -> str | None:
        return None if user_ids(event) else NO_IDENTIFIER

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        urn = self.settings.conversion_urn(event.event_name)
        if urn is None:
            raise KeyError(no_rule_reason(event.event_name))
        return to_element(event, urn)

    def request_body(self, events: Sequence[OutboundEvent]) -> dict[str, Any]:
        """The JSON body for ``events`` (all of them sendable)."""
        return {"elements": [self.build(event) for event in events]}

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One BATCH_CREATE call; the answer's ``elements`` carry one status per element."""
        content = json.dumps({"elements": list(payloads)}, separators=(",", ":")).encode()
        response = await self.request("POST", self.events_url, content=content, headers=self.headers())
        error = classify(response, mask=self.mask)
        if error is not None:
            log.warning("LinkedIn answered %d", response.status_code, extra={"connector": self.name})
            raise error
        return self._outcomes(json_body(response), response.status_code, len(payloads))

    def _outcomes(self, body: Any, status: int, count: int) -> list[Outcome]:
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list) or len(elements) != count:
            return [Delivered(status, f"LinkedIn accepted {count} conversions") for _ in range(count)]
        return [self._element_outcome(e, status) for e in elements]

    def _element_outcome(self, element: Any, status: int) -> Outcome:
        code = element.get("status", status) if isinstance(element, dict) else status
        if not isinstance(code, int) or code < 300:
            return Delivered(code if isinstance(code, int) else status, "created")
        error = element.get("error") if isinstance(element, dict) else None
        text = clip(self.mask(f"LinkedIn refused the element ({code}): {describe(error)}"))
        kind = status_kind(code)
        if kind is not None and issubclass(kind, RetryableDeliveryError):
            return Retry(text, None, code)
        return Failed(text, code)


__all__ = ["WINDOW_DAYS", "LinkedInConnector"]
