"""A fake Google: the Google Ads API ``uploadClickConversions``, the Data Manager API Customer Match
endpoints and an OAuth 2.0 token endpoint, strict like the real ones.

Ads API calls need a Bearer token the fake issued or was given, a known ``developer-token``
(403 ``DEVELOPER_TOKEN_NOT_APPROVED`` otherwise) and ``partialFailure: true``; unknown JSON names
refuse the whole request (400). Rows are checked one by one (:mod:`relay.sandbox.google_rules`): bad rows
are reported in ``partialFailureError`` with their index and the good ones are recorded. The Data
Manager endpoints refuse the whole request with ``BadRequest`` field violations naming each bad member.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.sandbox.base import FakePlatform, RecordedRequest, bearer, recorded_json
from relay.sandbox.checks import configured
from relay.sandbox.google_rules import (
    MAX_CONVERSIONS,
    MAX_MEMBERS,
    member_problem,
    row_problem,
    unknown_fields,
)
from relay.settings import Settings

FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
Member = frozenset[tuple[str, str]]


def rpc_error(status: int, code: str, message: str, *details: dict[str, Any]) -> JSONResponse:
    body = {"error": {"code": status, "message": message, "status": code, "details": list(details)}}
    return JSONResponse(body, status_code=status)


def ads_failure(kind: str, code: str, message: str, index: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorCode": {kind: code}, "message": message}
    if index is not None:
        error["location"] = {"fieldPathElements": [{"fieldName": "conversions", "index": index}]}
    return error


class FakeGoogleAds(FakePlatform):
    """The fake; :attr:`conversions` holds accepted rows, :attr:`audiences` each list's members.

    ``unknown_clicks`` are click ids the fake answers ``CLICK_NOT_FOUND`` for (tests script bad rows
    this way); ``conversion_actions`` ``None`` accepts any action of ``customer_ids``.
    """

    def __init__(
        self,
        *,
        developer_tokens: Iterable[str] = (),
        access_tokens: Iterable[str] = (),
        refresh_logins: Iterable[tuple[str, str, str]] = (),
        customer_ids: Iterable[str] | None = None,
        conversion_actions: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.developer_tokens = set(developer_tokens)
        self.access_tokens = set(access_tokens)
        self.refresh_logins = set(refresh_logins)
        self.customer_ids = set(customer_ids) if customer_ids is not None else None
        self.conversion_actions = set(conversion_actions) if conversion_actions is not None else None
        self.unknown_clicks: set[str] = set()
        self.conversions: list[dict[str, Any]] = []
        self.audiences: dict[str, set[Member]] = {}
        self.tokens_issued = 0
        self.app = Starlette(
            routes=[
                Route("/_state", self._state, methods=["GET"]),
                Route("/token", self._token, methods=["POST"]),
                Route(
                    "/{version}/customers/{customer_id}:uploadClickConversions",
                    self._upload,
                    methods=["POST"],
                ),
                Route("/v1/audienceMembers:ingest", self._ingest, methods=["POST"]),
                Route("/v1/audienceMembers:remove", self._remove, methods=["POST"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings, *, mount: str = "/sandbox/google_ads") -> FakeGoogleAds:
        """Accepts the credentials of the ``google_ads`` connectors pointed at the sandbox."""
        fake = cls()
        logins = ("client_id", "client_secret", "refresh_token")
        for block in configured(settings, "google_ads", mount, "developer_token", "access_token", *logins):
            if developer_token := block["developer_token"]:
                fake.developer_tokens.add(developer_token)
            if access_token := block["access_token"]:
                fake.access_tokens.add(access_token)
            client_id, client_secret, refresh_token = (block[key] for key in logins)
            if client_id and client_secret and refresh_token:
                fake.refresh_logins.add((client_id, client_secret, refresh_token))
        return fake

    def reset(self) -> None:
        super().reset()
        self.conversions.clear()
        self.audiences.clear()
        self.unknown_clicks.clear()

    def members(self, audience_id: str) -> set[Member]:
        return set(self.audiences.get(audience_id, set()))

    async def _state(self, request: Request) -> Response:
        sizes = {aid: len(members) for aid, members in self.audiences.items()}
        return JSONResponse(
            {"conversions": len(self.conversions), "recent": self.conversions[-20:][::-1], "audiences": sizes}
        )

    # -- OAuth

    async def _token(self, request: Request) -> Response:
        recorded = await self.record(request)
        form = dict(parse_qsl(recorded.body.decode("utf-8", "replace")))
        login = tuple(str(form.get(k, "")) for k in ("client_id", "client_secret", "refresh_token"))
        if form.get("grant_type") != "refresh_token" or login not in self.refresh_logins:
            body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            return JSONResponse(body, status_code=400)
        token = f"ya29.sandbox-{uuid.uuid4().hex}"
        self.access_tokens.add(token)
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _unauthenticated(self, recorded: RecordedRequest, *, ads_api: bool) -> Response | None:
        if bearer(recorded.headers) not in self.access_tokens:
            failure = {
                "@type": FAILURE_TYPE,
                "errors": [ads_failure("authenticationError", "OAUTH_TOKEN_INVALID", "invalid token")],
            }
            return rpc_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", failure
            )
        if ads_api and recorded.headers.get("developer-token") not in self.developer_tokens:
            error = ads_failure(
                "authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED", "developer token not approved"
            )
            return rpc_error(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                {"@type": FAILURE_TYPE, "errors": [error]},
            )
        login = recorded.headers.get("login-customer-id")
        if ads_api and login is not None and not (login.isdigit() and len(login) == 10):
            return rpc_error(400, "INVALID_ARGUMENT", "login-customer-id must be 10 digits")
        return None

    # -- conversions

    async def _upload(self, request: Request) -> Response:
        recorded, answer = await self.receive(request, lambda r: self._unauthenticated(r, ads_api=True))
        if answer is not None:
            return answer
        customer = request.path_params["customer_id"]
        if self.customer_ids is not None and customer not in self.customer_ids:
            return rpc_error(403, "PERMISSION_DENIED", f"customer {customer} is not accessible")
        body = recorded_json(recorded)
        rows = body.get("conversions") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_CONVERSIONS:
            return rpc_error(400, "INVALID_ARGUMENT", f"conversions must hold 1 to {MAX_CONVERSIONS} rows")
        unknown = unknown_fields(rows) + [
            f"{k}"
            for k in set(body) - {"conversions", "partialFailure", "validateOnly", "debugEnabled", "jobId"}
        ]
        if unknown:
            return rpc_error(
                400, "INVALID_ARGUMENT", f"Invalid JSON payload received. Unknown name {unknown}"
            )
        if body.get("partialFailure") is not True:
            return rpc_error(
                400, "INVALID_ARGUMENT", "partial_failure must be true for uploadClickConversions"
            )
        errors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            problem = row_problem(row, customer, self.conversion_actions, self.unknown_clicks)
            if problem:
                errors.append(ads_failure(*problem, index=index))
                results.append({})
            else:
                results.append(
                    {
                        key: row[key]
                        for key in ("conversionAction", "conversionDateTime", "gclid")
                        if key in row
                    }
                )
                if not body.get("validateOnly"):
                    self.conversions.append(row)
        answer_body: dict[str, Any] = {"results": results, "jobId": str(int(time.time()))}
        if errors:
            message = f"{len(errors)} of {len(rows)} conversions failed"
            answer_body["partialFailureError"] = {
                "code": 3,
                "message": message,
                "details": [{"@type": FAILURE_TYPE, "errors": errors}],
            }
        return JSONResponse(answer_body)

    # -- Customer Match (Data Manager API)

    async def _ingest(self, request: Request) -> Response:
        return await self._audience(request, add=True)

    async def _remove(self, request: Request) -> Response:
        return await self._audience(request, add=False)

    async def _audience(self, request: Request, *, add: bool) -> Response:
        recorded, answer = await self.receive(request, lambda r: self._unauthenticated(r, ads_api=False))
        if answer is not None:
            return answer
        body = recorded_json(recorded)
        destinations = body.get("destinations") if isinstance(body, dict) else None
        members = body.get("audienceMembers") if isinstance(body, dict) else None
        if not isinstance(destinations, list) or len(destinations) != 1 or not isinstance(members, list):
            return rpc_error(
                400, "INVALID_ARGUMENT", "one destination and a list of audienceMembers are required"
            )
        if not 1 <= len(members) <= MAX_MEMBERS or body.get("encoding") not in ("HEX", "BASE64"):
            return rpc_error(
                400, "INVALID_ARGUMENT", f"1 to {MAX_MEMBERS} members and an encoding are required"
            )
        destination = destinations[0]
        account = destination.get("operatingAccount") if isinstance(destination, dict) else None
        if (
            not isinstance(account, dict)
            or account.get("accountType") != "GOOGLE_ADS"
            or not destination.get("productDestinationId")
        ):
            return rpc_error(
                400, "INVALID_ARGUMENT", "destination needs operatingAccount and productDestinationId"
            )
        if self.customer_ids is not None and account.get("accountId") not in self.customer_ids:
            return rpc_error(403, "PERMISSION_DENIED", "the operating account is not accessible")
        violations = [
            {"field": f"audience_members.audience_members[{i}].user_data.user_identifiers", "reason": reason}
            for i, member in enumerate(members)
            if (reason := member_problem(member))
        ]
        if violations:
            detail = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
            return rpc_error(400, "INVALID_ARGUMENT", "There was a problem with the request.", detail)
        audience = self.audiences.setdefault(str(destination["productDestinationId"]), set())
        for member in members:
            keys = frozenset(
                item for ident in member["userData"]["userIdentifiers"] for item in ident.items()
            )
            audience -= {m for m in audience if m & keys}
            if add:
                audience.add(keys)
        return JSONResponse({"requestId": str(uuid.uuid4())})


__all__ = ["FakeGoogleAds", "ads_failure", "rpc_error"]
