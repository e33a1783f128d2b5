"""The ``tiktok`` connector: TikTok Events API 2.0 and custom audiences over the Business API v1.3."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from connectors.base import clip
from connectors.platform import PlatformConnector
from relay.exceptions import PermanentDeliveryError
from relay.settings import ConnectorSettings
from relay.types import (
    AudienceBatchResult,
    AudienceMember,
    Capability,
    Delivered,
    OutboundEvent,
    Outcome,
)

from . import audiences, events
from .errors import classify
from .settings import TikTokSettings

API_VERSION = "v1.3"
#: TikTok's window for web events [unverified: the click id lives 7 days; older events are refused]
MAX_AGE_DAYS = 7


class TikTokConnector(PlatformConnector[TikTokSettings]):
    """Sends web events to ``POST /open_api/v1.3/event/track/`` and syncs customer file segments."""

    type_name: ClassVar[str] = "tiktok"
    settings_model: ClassVar[type[ConnectorSettings]] = TikTokSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions", "audiences"})
    platform_max_batch: ClassVar[int] = 1000
    window_days: ClassVar[float | None] = MAX_AGE_DAYS
    standard_events: ClassVar[Mapping[str, str]] = events.STANDARD_EVENTS
    max_audience_batch: ClassVar[int] = audiences.MAX_MEMBERS
    #: no replace-all upload: a full sync is adds plus the relay's computed removals
    supports_replace: ClassVar[bool] = False

    def url(self, path: str) -> str:
        return f"{self.settings.api_base}/open_api/{API_VERSION}/{path}/"

    # -- conversions

    def unsendable(self, event: OutboundEvent) -> str | None:
        if event.action_source != "website":
            return events.WEB_ONLY.format(event.action_source)
        return None if events.matchable(events.user(event)) else events.NO_IDENTIFIER

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        return events.item(event, self.platform_event_name(event.event_name) or event.event_name)

    def request_body(self, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The JSON body of one ``event/track`` call carrying the built items ``data``."""
        body: dict[str, Any] = {"event_source": "web", "event_source_id": self.settings.pixel_code}
        if self.settings.test_event_code:
            body["test_event_code"] = self.settings.test_event_code
        body["data"] = list(data)
        return body

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        token = self.settings.access_token.get_secret_value()
        response = await self.request(
            "POST", self.url("event/track"), json=self.request_body(payloads), headers={"Access-Token": token}
        )
        error = classify(response, self.mask)
        if error is not None:
            raise error
        summary = clip(self.mask(response.text), 300)
        return [Delivered(response.status_code, summary) for _ in payloads]

    # -- custom audiences

    async def audience_add(self, audience_id: str, members: Sequence[AudienceMember]) -> AudienceBatchResult:
        return await self._audience("add", audience_id, members)

    async def audience_remove(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
        return await self._audience("delete", audience_id, members)

    async def audience_replace(
        self,
        audience_id: str,
        members: Sequence[AudienceMember],
        *,
        session_id: int,
        batch_seq: int,
        last: bool,
        estimated_total: int,
    ) -> AudienceBatchResult:
        """No replace session on TikTok: members are (re)added; removals come from the relay's diff."""
        return await self._audience("add", audience_id, members)

    async def _audience(
        self, action: audiences.Action, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
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
