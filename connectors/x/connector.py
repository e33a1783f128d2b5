"""The ``x`` connector: X Conversions API and Custom Audiences over the X Ads API v12."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from connectors.audiences import AddOnlyAudiences, AudienceTally
from connectors.base import BaseConnector, clip
from relay.exceptions import PermanentDeliveryError, UnavailableError
from relay.masking import MASK
from relay.settings import ConnectorSettings
from relay.types import (
    AudienceBatchResult,
    AudienceMember,
    Capability,
    Delivered,
    OutboundEvent,
    Outcome,
    Skipped,
)

from . import audiences
from .audiences import Chunk, OperationType
from .conversions import NO_IDENTIFIER, identifiers, no_tag_reason, to_conversion
from .errors import classify, error_items, json_body, rate_limit_wait
from .oauth1 import OAuth1Auth, OAuth1Credentials
from .ratelimit import XRateLimiter
from .settings import XSettings

API_VERSION = "12"
log = logging.getLogger("relay.connectors.x")
#: an echoed ``Authorization`` header: everything after "OAuth" on its line is credentials
_OAUTH_HEADER = re.compile(r"\bOAuth\s+[^\r\n]*oauth_[^\r\n]*")
#: OAuth parameters in any other form (``oauth_signature=abc``, ``"oauth_token": "abc"``)
_OAUTH_PARAM = re.compile(
    r"(oauth_(?:signature|token|consumer_key|verifier)[\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)[^\"'&,;\s]+"
)


class XConnector(AddOnlyAudiences, BaseConnector[XSettings]):
    """Delivers conversions to X and keeps X Custom Audiences in sync."""

    type_name: ClassVar[str] = "x"
    settings_model: ClassVar[type[ConnectorSettings]] = XSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({"conversions", "audiences"})
    platform_max_batch: ClassVar[int] = 500
    max_audience_batch: ClassVar[int] = audiences.MAX_OPERATIONS

    def __init__(self, name: str, settings: XSettings, client: httpx.AsyncClient) -> None:
        super().__init__(name, settings, client)
        self.auth = _oauth(settings)
        self.limiter = XRateLimiter()  # 60,000 events per 15 minutes per account
        self.audience_limiter = XRateLimiter(max_units=1_500, window=60.0)  # requests per minute

    # -- conversions -----------------------------------------------------------------------------

    def skip_reason(self, event_name: str) -> str | None:
        return None if event_name in self.settings.event_tags else no_tag_reason(event_name)

    def secrets(self) -> Sequence[str]:
        return self.settings.secret_values()

    @property
    def conversions_url(self) -> str:
        return f"{self.settings.api_base}/{API_VERSION}/measurement/conversions/{self.settings.pixel_id}"

    def mask(self, text: str) -> str:
        """Also hides an ``Authorization: OAuth ...`` header or OAuth parameters a platform echoes back."""
        return _OAUTH_PARAM.sub(r"\1" + MASK, _OAUTH_HEADER.sub("OAuth " + MASK, super().mask(text)))

    def precheck(self, event: OutboundEvent) -> Outcome | None:
        """``Skipped`` for an event X cannot take (no event tag, no identifier), else None."""
        reason = self.skip_reason(event.event_name)
        if reason is None and not identifiers(event):
            reason = NO_IDENTIFIER
        return Skipped(reason) if reason else None

    def build(self, event: OutboundEvent) -> dict[str, Any]:
        """One entry of ``conversions``; raises when the stored event cannot be mapped."""
        return to_conversion(event, self.settings.event_tags[event.event_name])

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One request for built conversions."""
        body = {"conversions": list(payloads)}
        response = await self._post(self.conversions_url, body, self.limiter, len(payloads))
        delivered = self._accepted(response, [str(c.get("conversion_id")) for c in payloads])
        return [delivered for _ in payloads]

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        """One request for ``events`` (those X cannot take are answered ``Skipped``)."""
        outcomes, built = self.prepare(events)
        if built:
            for (index, _), outcome in zip(
                built, await self.send_payloads([p for _, p in built]), strict=True
            ):
                outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def request_body(self, events: Sequence[OutboundEvent]) -> dict[str, Any]:
        """The JSON body for ``events``, which must all be sendable (see :meth:`deliver`)."""
        return {"conversions": [self.build(event) for event in events]}

    def _accepted(self, response: httpx.Response, sent: Sequence[str]) -> Delivered:
        body = json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        data = data if isinstance(data, dict) else {}
        processed, debug_id = data.get("conversions_processed"), data.get("debug_id")
        debug_id = clip(self.mask(str(debug_id)), 100) if debug_id is not None else None
        extra = {"connector": self.name, "debug_id": debug_id, "event_ids": list(sent)}
        if processed != len(sent):
            log.warning(
                "X processed %s of %d conversions (debug_id %s)", processed, len(sent), debug_id, extra=extra
            )
        else:
            log.info("X accepted %d conversions (debug_id %s)", len(sent), debug_id, extra=extra)
        summary = f"conversions_processed={processed} debug_id={debug_id}"
        return Delivered(response.status_code, clip(self.mask(summary)))

    async def verify(self) -> tuple[bool, str]:
        """``relay check --connect``: ``GET /12/accounts/{ads_account_id}`` (or ``/12/accounts``), signed."""
        if self.auth is None:
            return True, "not verified: a pixel_token can only send events (no harmless call to check it)"
        account = self.settings.ads_account_id
        url = f"{self.settings.api_base}/{API_VERSION}/accounts" + (f"/{account}" if account else "")
        response = await self.client.get(url, auth=self.auth)
        if response.status_code == 200:
            what = f"ads account {account}" if account else "the ads accounts list"
            return True, f"credentials accepted ({what} readable)"
        errors = error_items(json_body(response))
        first = str(errors[0].get("message") or errors[0]) if errors else None
        message = first or clip(self.mask(response.text), 200) or response.reason_phrase
        return False, f"X answered {response.status_code}: {message}"

    # -- HTTP --------------------------------------------------------------------------------------

    async def _post(self, url: str, body: Any, limiter: XRateLimiter, cost: int) -> httpx.Response:
        """POST JSON within the rate limit; raise the relay error an X error answer means."""
        response = await self._call(url, _encode(body), limiter, cost)
        error = classify(response, now=time.time(), mask=self.mask)
        if error is not None:
            raise error
        return response

    async def _call(self, url: str, content: bytes, limiter: XRateLimiter, cost: int) -> httpx.Response:
        await limiter.acquire(cost)
        headers = {"Content-Type": "application/json"}
        if self.auth is None and self.settings.pixel_token is not None:
            headers["X-Pixel-Token"] = self.settings.pixel_token.get_secret_value()
        response = await self.request("POST", url, content=content, headers=headers, auth=self.auth)
        limiter.observe(response.headers)
        if response.status_code == 429:
            limiter.block(rate_limit_wait(response.headers, time.time()))
        if response.status_code >= 300:
            log.warning(
                "X answered %d", response.status_code, extra={"connector": self.name, "url": self.mask(url)}
            )
        return response

    # -- audiences ---------------------------------------------------------------------------------

    def audience_url(self, audience_id: str) -> str:
        account = self.settings.ads_account_id
        return (
            f"{self.settings.api_base}/{API_VERSION}/accounts/{account}/custom_audiences/{audience_id}/users"
        )

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        op_type: OperationType = "Update" if add else "Delete"
        problem = self.settings.audience_problem()
        if problem:
            raise PermanentDeliveryError(problem)
        tally = AudienceTally(len(members))
        times = self._audience_times() if op_type == "Update" else {}
        ops = []
        for index, member in enumerate(members):
            try:
                user = audiences.member_user(member)
            except (TypeError, AttributeError):  # broken stored data: this member fails, not the batch
                user = None
            if user is None:
                tally.fail(index, audiences.NO_KEY)
            else:
                ops.append((index, audiences.operation(op_type, user, **times)))
        for chunk in audiences.chunk_operations(ops):
            await self._audience_chunk(self.audience_url(audience_id), chunk, tally)
        return tally.result()

    def _audience_times(self) -> dict[str, str]:
        days = self.settings.audience_expiry_days
        if days is None:
            return {}
        now = time.time()
        return {"effective_at": audiences.iso_time(now), "expires_at": audiences.iso_time(now + days * 86400)}

    async def _audience_chunk(
        self, url: str, chunk: Chunk, tally: AudienceTally, *, again: bool = True
    ) -> None:
        response = await self._call(url, chunk.body, self.audience_limiter, 1)
        body = json_body(response)
        errors = audiences.operation_errors(body)
        for position, message in errors.items():
            if position < len(chunk.indexes):
                tally.fail(chunk.indexes[position], self.mask(message))
        if errors and response.status_code == 400:
            # the batch failed as a unit: send the good operations once more, without the bad ones
            rest = chunk.without(set(errors))
            if rest.indexes and again:
                await self._audience_chunk(url, rest, tally, again=False)
            return
        error = classify(response, now=time.time(), mask=self.mask)
        if error is not None:
            raise error
        self._check_counts(body, len(chunk.indexes), len(errors))

    def _check_counts(self, body: Any, sent: int, failed: int) -> None:
        success, total = audiences.counts(body)
        if failed and success == sent - failed:
            return
        if not failed and success == total == sent:
            return
        raise UnavailableError(
            f"X processed success_count={success} total_count={total} of {sent} users; retrying the batch"
        )


def _oauth(settings: XSettings) -> OAuth1Auth | None:
    if not settings.has_oauth:
        return None
    secrets = [
        settings.consumer_key,
        settings.consumer_secret,
        settings.access_token,
        settings.access_token_secret,
    ]
    values = [s.get_secret_value() for s in secrets if s is not None]
    return OAuth1Auth(OAuth1Credentials(*values))


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = ["API_VERSION", "XConnector"]
