"""The fake X Ads API application and its state."""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.sandbox.base import FakePlatform, RecordedRequest, recorded_json
from relay.settings import Settings

from .oauth import header_params, oauth_problem
from .rules import (
    MAX_BODY_BYTES,
    MAX_CONVERSIONS,
    MAX_OPERATIONS,
    conversion_problems,
    operation_problems,
    x_error,
)

Member = frozenset[tuple[str, str]]
#: what the sandbox accepts when no ``x`` connector of the config points at it
SANDBOX_OAUTH = (
    "sandbox-consumer-key",
    "sandbox-consumer-secret",
    "sandbox-access-token",
    "sandbox-access-token-secret",
)
CONVERSIONS_ROUTE = "/12/measurement/conversions/{pixel_id}"
AUDIENCE_USERS_ROUTE = "/12/accounts/{account_id}/custom_audiences/{audience_id}/users"
ACCOUNTS_ROUTE = "/12/accounts"


@dataclass
class RateWindow:
    """A fixed rate-limit window, announced through ``<prefix>-limit/-remaining/-reset`` headers."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.time
    used: int = 0
    reset_at: float = 0.0

    def allows(self, cost: int) -> bool:
        now = self.clock()
        if now >= self.reset_at:
            self.used, self.reset_at = 0, now + self.seconds
        return self.used + cost <= self.limit

    def headers(self, prefix: str) -> dict[str, str]:
        remaining = str(max(self.limit - self.used, 0))
        reset = str(int(self.reset_at))
        return {
            f"{prefix}-limit": str(self.limit),
            f"{prefix}-remaining": remaining,
            f"{prefix}-reset": reset,
        }


def member_keys(user: dict[str, list[str]]) -> Member:
    """A user of an operation as the set of its (key, value) pairs."""
    return frozenset((key, value) for key, values in user.items() for value in values)


class FakeX(FakePlatform):
    """The fake X Ads API; ``app`` is its Starlette application, ``conversions`` what it recorded,
    ``memberships`` each custom audience's members.

    ``event_tags`` (short ids) are the account's single event tags (``None``: any), ``set_tags``
    tags that are not single (400); ``ads_account_id`` ``None`` accepts any account and
    ``audiences`` ``None`` any audience id. Rate windows: ``account_window`` (conversion events
    per 15 minutes), ``user_window`` (requests), ``audience_window`` (audience requests per minute).
    """

    def __init__(
        self,
        *,
        consumer_key: str | None = None,
        consumer_secret: str = "",
        access_token: str = "",
        access_token_secret: str = "",
        pixel_token: str | None = None,
        pixel_id: str | None = None,
        ads_account_id: str | None = "18ce54d4x5t",
        event_tags: Iterable[str] | None = None,
        set_tags: Iterable[str] = (),
        audiences: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
        max_clock_skew: float | None = 300.0,
    ) -> None:
        super().__init__()
        self.oauth_credentials: dict[tuple[str, str], tuple[str, str]] = {}
        self.pixel_tokens: set[str] = set()
        if consumer_key is not None:
            self.add_oauth(consumer_key, consumer_secret, access_token, access_token_secret)
        if pixel_token is not None:
            self.pixel_tokens.add(pixel_token)
        if not self.oauth_credentials and not self.pixel_tokens:
            raise ValueError("FakeX needs OAuth credentials or a pixel_token to check requests against")
        self.pixel_id, self.ads_account_id = pixel_id, ads_account_id
        self.event_tags = set(event_tags) if event_tags is not None else None
        self.set_tags = set(set_tags)
        self.audiences = set(audiences) if audiences is not None else None
        self.clock, self.max_clock_skew = clock, max_clock_skew
        self.conversions: list[dict[str, Any]] = []
        self.memberships: dict[str, set[Member]] = {}
        self.account_window = RateWindow(60_000, 900.0, clock)
        self.user_window = RateWindow(100_000, 900.0, clock)
        self.audience_window = RateWindow(1_500, 60.0, clock)
        self._nonces: set[tuple[str, str]] = set()
        self.app = Starlette(
            routes=[
                Route("/_state", self.state_endpoint, methods=["GET"]),
                Route(CONVERSIONS_ROUTE, self.conversions_endpoint, methods=["POST"]),
                Route(AUDIENCE_USERS_ROUTE, self.audience_users_endpoint, methods=["POST"]),
                Route(ACCOUNTS_ROUTE, self.accounts_endpoint, methods=["GET"]),
                Route(ACCOUNTS_ROUTE + "/{account_id}", self.accounts_endpoint, methods=["GET"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings) -> FakeX:
        """The sandbox's fake, accepting the credentials of every ``x`` connector pointed at it."""
        blocks = [b for b in settings.connectors.values() if b.type == "x" and "/sandbox/x" in b.api_base]
        tags = {tag.rsplit("-", 1)[-1] for b in blocks for tag in getattr(b, "event_tags", {}).values()}
        accounts = {getattr(b, "ads_account_id", None) for b in blocks} - {None}
        fake = cls(
            consumer_key=SANDBOX_OAUTH[0],
            consumer_secret=SANDBOX_OAUTH[1],
            access_token=SANDBOX_OAUTH[2],
            access_token_secret=SANDBOX_OAUTH[3],
            ads_account_id=accounts.pop() if len(accounts) == 1 else None,
            event_tags=tags or None,
        )
        for block in blocks:
            secrets = [
                getattr(block, key, None) for key in ("consumer_key", "consumer_secret", "access_token")
            ]
            secrets.append(getattr(block, "access_token_secret", None))
            if all(secret is not None for secret in secrets):
                fake.add_oauth(*(secret.get_secret_value() for secret in secrets if secret is not None))
            token = getattr(block, "pixel_token", None)
            if token is not None:
                fake.pixel_tokens.add(token.get_secret_value())
        return fake

    async def state_endpoint(self, request: Request) -> Response:
        """What the fake accepted: a count and the latest conversions, audience sizes (for the demo)."""
        audiences = {aid: len(members) for aid, members in self.memberships.items()}
        recent = self.conversions[-20:][::-1]
        members = {
            aid: [dict(sorted(member)) for member in sorted(rows, key=sorted)[:50]]
            for aid, rows in self.memberships.items()
        }
        return JSONResponse(
            {
                "conversions": len(self.conversions),
                "recent_conversions": recent,
                "audiences": audiences,
                "members": members,
            }
        )

    async def accounts_endpoint(self, request: Request) -> Response:
        """``GET /12/accounts[/{account_id}]``: the harmless read ``relay check --connect`` makes."""
        _, answer = await self.receive(request, lambda r: self.authenticate(r, pixel_token_ok=False))
        if answer is not None:
            return answer
        account_id = request.path_params.get("account_id")
        known = self.ads_account_id or account_id or "18ce54d4x5t"
        if account_id is not None and self.ads_account_id is not None and account_id != self.ads_account_id:
            return x_error(404, "NOT_FOUND", f"account {account_id} not found", "account_id")
        account = {"id": known, "name": "Sandbox ads account", "approval_status": "ACCEPTED"}
        data: Any = account if account_id is not None else [account]
        return JSONResponse({"request": {"params": {"account_id": account_id}}, "data": data})

    def add_oauth(
        self, consumer_key: str, consumer_secret: str, access_token: str, token_secret: str
    ) -> None:
        """Accept requests signed with these OAuth 1.0a credentials too."""
        self.oauth_credentials[(consumer_key, access_token)] = (consumer_secret, token_secret)

    def reset(self) -> None:
        super().reset()
        self.conversions.clear()
        self.memberships.clear()
        self._nonces.clear()
        for window in (self.account_window, self.user_window, self.audience_window):
            window.used, window.reset_at = 0, 0.0

    def members(self, audience_id: str) -> set[Member]:
        return set(self.memberships.get(audience_id, set()))

    def is_member(self, audience_id: str, key: str, value: str) -> bool:
        return any((key, value) in member for member in self.memberships.get(audience_id, set()))

    # -- auth -----------------------------------------------------------------------------------

    def authenticate(self, recorded: RecordedRequest, *, pixel_token_ok: bool) -> Response | None:
        """``None`` when the request is authenticated, else X's 401."""
        if "authorization" in recorded.headers:
            if self._oauth_ok(recorded):
                return None
        elif pixel_token_ok and self._pixel_token_ok(recorded.headers.get("x-pixel-token", "")):
            return None
        return x_error(401, "UNAUTHORIZED_ACCESS", "This request is not properly authenticated")

    def _oauth_ok(self, recorded: RecordedRequest) -> bool:
        now, skew = self.clock(), self.max_clock_skew
        if oauth_problem(recorded, self.oauth_credentials, now=now, skew=skew) is not None:
            return False
        params = header_params(recorded.headers["authorization"])
        used = (params["oauth_timestamp"], params["oauth_nonce"])
        if used in self._nonces:  # a replayed request
            return False
        self._nonces.add(used)
        return True

    def _pixel_token_ok(self, token: str) -> bool:
        return bool(token) and any(hmac.compare_digest(token.encode(), t.encode()) for t in self.pixel_tokens)

    # -- conversions ----------------------------------------------------------------------------

    async def conversions_endpoint(self, request: Request) -> Response:
        recorded, answer = await self.receive(request, lambda r: self.authenticate(r, pixel_token_ok=True))
        if answer is not None:
            return answer
        pixel_id = request.path_params["pixel_id"]
        if self.pixel_id is not None and pixel_id != self.pixel_id:
            return x_error(404, "NOT_FOUND", f"pixel {pixel_id} not found", "pixel_id")
        body = recorded_json(recorded)
        conversions = body.get("conversions") if isinstance(body, dict) else None
        if not isinstance(conversions, list) or not 1 <= len(conversions) <= MAX_CONVERSIONS:
            return x_error(400, "INVALID_PARAMETER", "Conversion count limit is 500", "conversions")
        status, errors = conversion_problems(conversions, pixel_id, self.event_tags, self.set_tags)
        if errors:
            return JSONResponse({"errors": errors, "request": {"params": {}}}, status_code=status)
        if not self.account_window.allows(len(conversions)) or not self.user_window.allows(1):
            return self._limited()
        self.account_window.used += len(conversions)
        self.user_window.used += 1
        self.conversions.extend(conversions)
        data = {"conversions_processed": len(conversions), "debug_id": str(uuid.uuid4())}
        body = {"request": {"params": {"account_id": self.ads_account_id}}, "data": data}
        return JSONResponse(body, headers=self._rate_headers())

    def _rate_headers(self) -> dict[str, str]:
        return self.account_window.headers("x-account-rate-limit") | self.user_window.headers("x-rate-limit")

    def _limited(self, headers: dict[str, str] | None = None) -> Response:
        response = x_error(429, "TOO_MANY_REQUESTS", "Rate limit exceeded")
        response.headers.update(headers or self._rate_headers())
        return response

    # -- audiences ------------------------------------------------------------------------------

    async def audience_users_endpoint(self, request: Request) -> Response:
        recorded, answer = await self.receive(request, lambda r: self.authenticate(r, pixel_token_ok=False))
        if answer is not None:
            return answer
        account_id, audience_id = request.path_params["account_id"], request.path_params["audience_id"]
        if self.ads_account_id is not None and account_id != self.ads_account_id:
            return x_error(404, "NOT_FOUND", f"account {account_id} not found", "account_id")
        if self.audiences is not None and audience_id not in self.audiences:
            return x_error(404, "TAILORED_AUDIENCE_NOT_FOUND", f"custom audience {audience_id} not found")
        if len(recorded.body) > MAX_BODY_BYTES:
            return x_error(400, "INVALID_PARAMETER", f"request body is over {MAX_BODY_BYTES} bytes")
        ops = recorded_json(recorded)
        if not isinstance(ops, list) or not 1 <= len(ops) <= MAX_OPERATIONS:
            return x_error(400, "INVALID_PARAMETER", f"expected 1 to {MAX_OPERATIONS} operation objects")
        problems = [operation_problems(op) for op in ops]
        if any(problems):  # the batch fails as a unit; operation_errors is aligned with the input
            message = f"{sum(1 for p in problems if p)} operations are invalid"
            return x_error(400, "INVALID_PARAMETER", message, operation_errors=problems)
        if not self.audience_window.allows(1):
            return self._limited(self.audience_window.headers("x-rate-limit"))
        self.audience_window.used += 1
        users = sum(self.apply(audience_id, op) for op in ops)
        params = {"account_id": account_id, "custom_audience_id": audience_id}
        body = {"request": {"params": params}, "data": {"success_count": users, "total_count": users}}
        return JSONResponse(body, headers=self.audience_window.headers("x-rate-limit"))

    def apply(self, audience_id: str, op: dict[str, Any]) -> int:
        """Apply one operation: ``Update`` merges with members sharing a key, ``Delete`` removes them."""
        members = self.memberships.setdefault(audience_id, set())
        users = op["params"]["users"]
        for user in users:
            keys = member_keys(user)
            overlapping = {member for member in members if member & keys}
            members -= overlapping
            if op["operation_type"] == "Update":
                members.add(keys.union(*overlapping))
        return len(users)


__all__ = ["AUDIENCE_USERS_ROUTE", "CONVERSIONS_ROUTE", "SANDBOX_OAUTH", "FakeX", "RateWindow", "member_keys"]
