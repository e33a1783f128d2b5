"""The ``tiktok`` connector: TikTok Events API 2.0 and custom audiences over the Business API v1.3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from connectors.audiences import AddOnlyAudiences
from connectors.platform import PlatformConnector, RequestParts
from relay.exceptions import DeliveryError, PermanentDeliveryError
from relay.types import AudienceBatchResult, AudienceMember, Capability, OutboundEvent

from . import audiences, events
from .errors import classify
from .events import API_VERSION
from .settings import TikTokSettings


class TikTokConnector(AddOnlyAudiences, PlatformConnector[TikTokSettings]):
    """Sends web events to ``POST /open_api/v1.3/event/track/`` and syncs customer file segments."""

    type_name = "tiktok"
    settings_model = TikTokSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions", "audiences"})
    api = events.API
    max_audience_batch = audiences.MAX_MEMBERS

    def url(self, path: str) -> str:
        return f"{self.settings.api_base}/open_api/{API_VERSION}/{path}/"

    # -- conversions

    def unsendable(self, event: OutboundEvent) -> str | None:
        if event.action_source != "website":
            return events.WEB_ONLY.format(event.action_source)
        return None if events.matchable(events.user(event)) else events.NO_IDENTIFIER

    def request_body(self, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The JSON body of one ``event/track`` call carrying the built items ``data``."""
        body: dict[str, Any] = {"event_source": "web", "event_source_id": self.settings.pixel_code}
        if self.settings.test_event_code:
            body["test_event_code"] = self.settings.test_event_code
        body["data"] = list(data)
        return body

    def request_parts(self, payloads: Sequence[Any]) -> RequestParts:
        token = self.settings.access_token.get_secret_value()
        return {"json": self.request_body(payloads), "headers": {"Access-Token": token}}

    def error_of(self, response: httpx.Response) -> DeliveryError | None:
        return classify(response, self.mask)  # TikTok answers its own code, even with status 200

    # -- custom audiences

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        action: audiences.Action = "add" if add else "delete"
        advertiser = self.settings.advertiser_id
        if advertiser is None:
            raise PermanentDeliveryError("TikTok custom audiences need advertiser_id in the connector block")
        rows: list[list[dict[str, Any]]] = []
        failed: list[int] = []
        for index, member in enumerate(members):
            ids = audiences.member_ids(member)
            if any(ids):
                rows.append(audiences.row(ids, audience_id))
            else:
                failed.append(index)
        token = (self.settings.audience_access_token or self.settings.access_token).get_secret_value()
        size = self.max_audience_batch
        for start in range(0, len(rows), size):
            response = await self.request(
                "POST",
                self.url("segment/mapping"),
                json=audiences.body(advertiser, action, rows[start : start + size]),
                headers={"Access-Token": token},
            )
            error = classify(response, self.mask)
            if error is not None:
                raise error
        samples = {str(i): audiences.NO_KEY for i in failed[:10]}
        return AudienceBatchResult(
            received=len(members), invalid=len(failed), invalid_samples=samples, failed_indexes=failed
        )


__all__ = ["API_VERSION", "TikTokConnector"]
