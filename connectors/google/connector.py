"""The ``google_ads`` connector: click and enhanced conversions over the Google Ads API, Customer Match
over the Data Manager API."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from connectors.audiences import AddOnlyAudiences, AudienceTally
from connectors.base import DAY, BaseConnector, clip
from connectors.http import json_body
from relay.settings import ConnectorSettings
from relay.types import (
    AudienceBatchResult,
    AudienceMember,
    Capability,
    Delivered,
    Failed,
    OutboundEvent,
    Outcome,
    Retry,
    Skipped,
)

from . import audiences
from .conversions import NO_IDENTIFIER, click_id, no_action_reason, to_click_conversion, user_identifiers
from .errors import classify, describe_error, is_transient, row_errors
from .settings import GoogleAdsSettings
from .token import GoogleToken

log = logging.getLogger("relay.connectors.google_ads")
#: Google takes click conversions up to 90 days after the click (the longest click-through window)
WINDOW_DAYS = 90


class GoogleAdsConnector(AddOnlyAudiences, BaseConnector[GoogleAdsSettings]):
    """Uploads click conversions (gclid / gbraid / wbraid, enhanced with hashed email and phone) and
    keeps Customer Match lists in sync."""

    type_name: ClassVar[str] = "google_ads"
    settings_model: ClassVar[type[ConnectorSettings]] = GoogleAdsSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions", "audiences"})
    platform_max_batch: ClassVar[int] = 2000
    max_audience_batch: ClassVar[int] = audiences.MAX_MEMBERS

    def __init__(self, name: str, settings: GoogleAdsSettings, client: httpx.AsyncClient) -> None:
        super().__init__(name, settings, client)
        refresh = None
        if settings.client_id and settings.client_secret and settings.refresh_token:
            refresh = (
                settings.client_id,
                settings.client_secret.get_secret_value(),
                settings.refresh_token.get_secret_value(),
            )
        access = settings.access_token.get_secret_value() if settings.access_token else None
        self.token = GoogleToken(access_token=access, refresh=refresh, token_url=settings.token_url)

    # -- credentials

    def secrets(self) -> Sequence[str]:
        current = self.token.current()
        return [*self.settings.secret_values(), *([current] if current else [])]

    async def headers(self, *, ads_api: bool) -> dict[str, str]:
        """OAuth bearer; the Google Ads API also wants ``developer-token`` and ``login-customer-id``."""
        token = await self.token.get(self._post_form)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if ads_api:
            headers["developer-token"] = self.settings.developer_token.get_secret_value()
            if self.settings.login_customer_id:
                headers["login-customer-id"] = self.settings.login_customer_id
        return headers

    async def _post_form(self, url: str, *, data: dict[str, str]) -> httpx.Response:
        return await self.request("POST", url, data=data)

    async def _send(self, url: str, body: Any, *, ads_api: bool) -> httpx.Response:
        """POST JSON; a 401 refreshes the token and tries once more when a refresh token is configured."""
        content = json.dumps(body, separators=(",", ":")).encode()
        response = await self.request(
            "POST", url, content=content, headers=await self.headers(ads_api=ads_api)
        )
        if response.status_code == 401 and self.token.can_refresh:
            self.token.invalidate()
            headers = await self.headers(ads_api=ads_api)
            response = await self.request("POST", url, content=content, headers=headers)
        return response

    async def _call(self, url: str, body: Any, *, ads_api: bool) -> httpx.Response:
        """:meth:`_send`, raising the relay error a failed answer means."""
        response = await self._send(url, body, ads_api=ads_api)
        self._raise_for(response)
        return response

    def _raise_for(self, response: httpx.Response) -> None:
        error = classify(response, mask=self.mask)
        if error is not None:
            log.warning("Google answered %d", response.status_code, extra={"connector": self.name})
            raise error

    # -- conversions

    @property
    def upload_url(self) -> str:
        s = self.settings
        return f"{s.api_base}/{s.api_version}/customers/{s.customer_id}:uploadClickConversions"

    def skip_reason(self, event_name: str) -> str | None:
        return None if self.settings.conversion_action(event_name) else no_action_reason(event_name)

    def acceptance_window(self, action_source: str) -> float:
        return WINDOW_DAYS * DAY

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        reason = self.skip_reason(event.event_name)
        if reason is None and event.consent.decision == "deny":
            reason = f"consent denied: {event.consent.reason}"
        if reason is None and click_id(event) is None and not user_identifiers(event.hashed):
            reason = NO_IDENTIFIER
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        action = self.settings.conversion_action(event.event_name)
        if action is None:
            raise KeyError(no_action_reason(event.event_name))
        return to_click_conversion(event, action)

    def body_for(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"conversions": list(rows), "partialFailure": True}
        if self.settings.validate_only:
            body["validateOnly"] = True
        return body

    def request_body(self, events: Sequence[OutboundEvent]) -> dict[str, Any]:
        """The JSON body for ``events`` (all of them sendable)."""
        return self.body_for([self.build(event) for event in events])

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One upload; rows named in ``partialFailureError`` fail (or retry) alone."""
        response = await self._call(self.upload_url, self.body_for(payloads), ads_api=True)
        errors = row_errors(json_body(response))
        return [self._row_outcome(errors.get(i), response.status_code) for i in range(len(payloads))]

    def _row_outcome(self, errors: list[dict[str, Any]] | None, status: int) -> Outcome:
        if not errors:
            return Delivered(status, "uploaded" + (" (validate_only)" if self.settings.validate_only else ""))
        text = clip(
            self.mask("Google refused the conversion: " + "; ".join(describe_error(e) for e in errors))
        )
        if all(is_transient(e) for e in errors):
            return Retry(text, None, status)
        return Failed(text, status)

    # -- Customer Match

    def destination(self, audience_id: str) -> dict[str, Any]:
        """The Data Manager ``Destination`` of a Customer Match list of ``customer_id``."""
        destination: dict[str, Any] = {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": self.settings.customer_id},
            "productDestinationId": audience_id,
        }
        if self.settings.login_customer_id:
            login = {"accountType": "GOOGLE_ADS", "accountId": self.settings.login_customer_id}
            destination["loginAccount"] = login
        return destination

    def audience_consent(self) -> dict[str, str] | None:
        c = self.settings.audience_consent
        flags = {"adUserData": c.ad_user_data, "adPersonalization": c.ad_personalization}
        found = {k: f"CONSENT_{v.upper()}" for k, v in flags.items() if v is not None}
        return found or None

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        tally = AudienceTally(len(members))
        rows: list[tuple[int, dict[str, Any]]] = []
        for index, member in enumerate(members):
            identifiers = audiences.member_identifiers(member)
            if identifiers:
                rows.append((index, {"userData": {"userIdentifiers": identifiers}}))
            else:
                tally.fail(index, audiences.NO_KEY)
        size = self.max_audience_batch
        for start in range(0, len(rows), size):
            await self._audience_chunk(audience_id, rows[start : start + size], tally, add=add)
        return tally.result()

    async def _audience_chunk(
        self,
        audience_id: str,
        rows: list[tuple[int, dict[str, Any]]],
        tally: AudienceTally,
        *,
        add: bool,
        again: bool = True,
    ) -> None:
        verb = "ingest" if add else "remove"
        url = f"{self.settings.data_manager_base}/v1/audienceMembers:{verb}"
        body = audiences.request_body(
            self.destination(audience_id), [m for _, m in rows], self.audience_consent(), add=add
        )
        response = await self._send(url, body, ads_api=False)
        bad = audiences.violations(json_body(response)) if response.status_code == 400 else {}
        if not bad or not again:
            self._raise_for(response)
            return
        # the request failed as a unit: the named members fail, the others go once more
        for position, reason in bad.items():
            if position < len(rows):
                tally.fail(rows[position][0], self.mask(reason))
        rest = [row for i, row in enumerate(rows) if i not in bad]
        if rest:
            await self._audience_chunk(audience_id, rest, tally, add=add, again=False)


__all__ = ["WINDOW_DAYS", "GoogleAdsConnector"]
