"""The ``meta`` connector: Conversions API events and Custom Audiences over the Graph API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any, Unpack
from urllib.parse import quote

import httpx

from connectors.base import DAY, BaseConnector, ReplaceSession, clip
from connectors.meta import audiences, capi
from connectors.meta.catalog import MetaCatalog
from connectors.meta.errors import classify, parse_graph_error
from connectors.meta.lookalike import MetaLookalikes
from connectors.meta.settings import MetaSettings
from relay.exceptions import PayloadRejectedError
from relay.masking import mask_url
from relay.types import (
    AudienceBatchResult,
    AudienceMember,
    Delivered,
    Failed,
    OutboundEvent,
    Outcome,
    Skipped,
)

NO_USER_DATA = "no customer information Meta accepts (user_data would be empty)"
#: how much of Meta's answer to a successful call is kept on the attempt
SUMMARY_CHARS = 300


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """``HMAC-SHA256(key=app_secret, msg=access_token)`` in hex, as the Graph API expects it."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


class MetaConnector(BaseConnector[MetaSettings]):
    """Sends events to ``POST /{version}/{pixel_id}/events`` and keeps Custom Audiences in sync."""

    type_name = "meta"
    settings_model = MetaSettings
    capabilities = frozenset({"conversions", "audiences"})
    platform_max_batch = 1000
    max_audience_batch = 10000

    # -- credentials and URLs

    def auth_params(self) -> dict[str, str]:
        """The query parameters carrying the credentials (meta.md §1)."""
        token = self.settings.access_token.get_secret_value()
        params = {"access_token": token}
        if self.settings.app_secret is not None:
            params["appsecret_proof"] = appsecret_proof(self.settings.app_secret.get_secret_value(), token)
        return params

    def secrets(self) -> Sequence[str]:
        secrets = list(self.auth_params().values())
        if self.settings.app_secret is not None:
            secrets.append(self.settings.app_secret.get_secret_value())
        return secrets

    def url(self, *path: str) -> str:
        # ids come from config; quoting keeps a stray "/" or "?" from changing the endpoint
        return "/".join(
            [self.settings.api_base, self.settings.api_version, *(quote(p, safe="") for p in path)]
        )

    async def verify(self) -> tuple[bool, str]:
        """``relay check --connect``: ``GET /{version}/{pixel_id}?fields=id`` reads only the pixel's id."""
        pixel = self.settings.pixel_id
        response = await self.client.get(self.url(pixel), params={"fields": "id", **self.auth_params()})
        if response.status_code == 200:
            return True, f"credentials accepted for pixel {pixel}"
        error = parse_graph_error(response)
        message = error.message if error else clip(self.mask(response.text), 200) or response.reason_phrase
        return False, f"Meta answered {response.status_code}: {message}"

    def catalog_api(self) -> MetaCatalog:
        """The Catalog Batch API client (``relay.catalog``)."""
        return MetaCatalog(self)

    def lookalike_api(self) -> MetaLookalikes:
        """The lookalike audience client (``relay.audiences.lookalike``)."""
        return MetaLookalikes(self)

    # -- conversions

    def meta_event_name(self, event_name: str) -> str | None:
        """The name Meta receives: the ``events`` override, else the name itself; None = never send."""
        return self.settings.events.get(event_name, event_name)

    def skip_reason(self, event_name: str) -> str | None:
        if self.meta_event_name(event_name) is None:
            return f"event not mapped for {self.name} (events: {event_name}: null)"
        return None

    def acceptance_window(self, action_source: str) -> float:
        """Meta takes events up to 7 days after ``event_time``, 62 for ``physical_store`` (meta.md §1.1)."""
        return (62 if action_source == "physical_store" else 7) * DAY

    def request_body(self, events: Sequence[OutboundEvent], *, now: float | None = None) -> dict[str, Any]:
        """The JSON body of one ``/events`` call for ``events`` (all of them sendable)."""
        now = time.time() if now is None else now
        return self.body_for([self.build(e, now=now) for e in events])

    def body_for(self, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The JSON body of one ``/events`` call carrying the built server events ``data``."""
        body: dict[str, Any] = {"data": list(data)}
        if self.settings.test_event_code:
            body["test_event_code"] = self.settings.test_event_code
        body["partner_agent"] = self.settings.partner_agent
        return body

    def describe_request(
        self, events: Sequence[OutboundEvent], *, now: float | None = None
    ) -> dict[str, Any]:
        """The request that would carry ``events``, credentials masked: ``{method, url, json}``."""
        url = str(httpx.URL(self.url(self.settings.pixel_id, "events"), params=self.auth_params()))
        return {"method": "POST", "url": mask_url(url), "json": self.request_body(events, now=now)}

    def _check(self, event: OutboundEvent, now: float) -> tuple[Outcome | None, dict[str, Any]]:
        """The outcome of an event that must not be sent (or None), with the ``user_data`` it was checked
        on, so that the build does not compute it again."""
        reason = self.skip_reason(event.event_name)
        if reason:
            return Skipped(reason), {}
        if event.consent.decision == "deny":
            return Skipped(f"consent denied: {event.consent.reason}"), {}
        refusal = capi.refusal(event, now=now)
        if refusal:
            return Failed(refusal), {}
        user = capi.user_data(event)
        return (None if user else Skipped(NO_USER_DATA)), user

    def precheck(self, event: OutboundEvent, *, now: float | None = None) -> Outcome | None:
        """The outcome of an event that must not be sent, or None when it may go."""
        return self._check(event, time.time() if now is None else now)[0]

    def build(
        self, event: OutboundEvent, *, now: float | None = None, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One ``data[]`` element; raises when the stored event cannot be mapped (that event fails alone).
        ``user``: its ``user_data`` when already built."""
        now = time.time() if now is None else now
        name = self.meta_event_name(event.event_name) or event.event_name
        return capi.server_event(event, name, now=now, user=user)

    def prepare_one(self, event: OutboundEvent) -> tuple[Outcome | None, Any]:
        """The check and the build on one clock, the build on the check's ``user_data``."""
        now = time.time()
        outcome, user = self._check(event, now)
        return (outcome, None) if outcome is not None else (None, self.build(event, now=now, user=user))

    async def send_payloads(self, payloads: Sequence[Any]) -> Sequence[Outcome]:
        """One ``/events`` call for built server events."""
        response = await self.request(
            "POST",
            self.url(self.settings.pixel_id, "events"),
            params=self.auth_params(),
            json=self.body_for(payloads),
        )
        if not response.is_success:
            raise classify(response, self.mask)
        summary = clip(self.mask(response.text), SUMMARY_CHARS)  # mask first: a cut never halves a secret
        return [Delivered(response.status_code, summary) for _ in payloads]

    async def send_batch(self, events: Sequence[OutboundEvent]) -> Sequence[Outcome]:
        now = time.time()
        return await self.send_payloads([self.build(e, now=now) for e in events])

    async def send_test(self, event: OutboundEvent) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send one event now, whatever its checks say; ``(request, response)``, both masked.

        For ``relay send-test-event``: the request is :meth:`describe_request`'s dict, the response
        ``{"status_code": int, "body": <JSON or text>}``. Transport errors raise a ``DeliveryError``.
        """
        now = time.time()
        described = self.describe_request([event], now=now)
        response = await self.request(
            "POST",
            self.url(self.settings.pixel_id, "events"),
            params=self.auth_params(),
            json=self.request_body([event], now=now),
        )
        text = self.mask(response.text)
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return described, {"status_code": response.status_code, "body": body}

    # -- custom audiences

    async def audience_add(self, audience_id: str, members: Sequence[AudienceMember]) -> AudienceBatchResult:
        """``POST /{audience_id}/users`` in requests of at most 10,000 rows."""
        return await self._chunked("POST", audience_id, members)

    async def audience_remove(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
        """``DELETE /{audience_id}/users`` in requests of at most 10,000 rows."""
        return await self._chunked("DELETE", audience_id, members)

    async def audience_replace(
        self, audience_id: str, members: Sequence[AudienceMember], **session: Unpack[ReplaceSession]
    ) -> AudienceBatchResult:
        """One batch of a ``usersreplace`` session; the new membership takes effect with ``last``.

        A batch carries at most :attr:`max_audience_batch` members (one request, so that
        ``batch_seq`` stays the caller's).
        """
        if len(members) > self.max_audience_batch:
            raise ValueError(f"a replace batch holds at most {self.max_audience_batch} members")
        built = audiences.build_rows(members)
        local = audiences.left_out(built.dropped)
        if not built.rows:
            if not session["last"]:
                return local
            raise PayloadRejectedError(
                f"replace batch {session['batch_seq']} of session {session['session_id']} has no member "
                "with a usable identifier; Meta refuses an empty upload, so the session cannot be closed "
                "with it"
            )
        graph_session = {
            "session_id": session["session_id"],
            "batch_seq": session["batch_seq"],
            "last_batch_flag": session["last"],
            "estimated_num_total": session["estimated_total"],
        }
        sent = await self._audience_call("POST", audience_id, "usersreplace", built.rows, graph_session)
        return audiences.merge([sent, local])

    async def _chunked(
        self, method: str, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
        built = audiences.build_rows(members)
        results = [audiences.left_out(built.dropped)]
        size = self.max_audience_batch
        for start in range(0, len(built.rows), size):
            rows = built.rows[start : start + size]
            results.append(await self._audience_call(method, audience_id, "users", rows))
        return audiences.merge(results)

    async def _audience_call(
        self,
        method: str,
        audience_id: str,
        edge: str,
        rows: Sequence[list[str]],
        session: dict[str, Any] | None = None,
    ) -> AudienceBatchResult:
        response = await self.request(
            method,
            self.url(audience_id, edge),
            params=self.auth_params(),
            content=audiences.request_body(rows, session),
            headers={"Content-Type": "application/json"},
        )
        if not response.is_success:
            raise classify(response, self.mask)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        return audiences.read_result(answer, len(rows), self.mask)


__all__ = ["MetaConnector", "appsecret_proof"]
