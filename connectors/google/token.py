"""OAuth 2.0 access tokens for Google APIs: a fixed one, or refreshed from a refresh token as they expire.

The refresh is ``POST token_url`` with ``grant_type=refresh_token`` (RFC 6749 §6); Google answers
``{"access_token", "expires_in", "token_type"}``. A refused refresh (``invalid_grant``, ``invalid_client``)
pauses the connector; an unavailable token endpoint is retried like the platform.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from relay.exceptions import AuthRejectedError, UnavailableError

#: refresh this long before Google's announced expiry
EARLY_REFRESH = 60.0
Post = Callable[..., Awaitable[httpx.Response]]


class GoogleToken:
    """The access token to send; :meth:`get` refreshes it when needed, :meth:`invalidate` after a 401."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        refresh: tuple[str, str, str] | None = None,
        token_url: str = "https://oauth2.googleapis.com/token",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = access_token
        self._expires = float("inf") if access_token and refresh is None else 0.0
        self._refresh = refresh
        self.token_url = token_url
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def can_refresh(self) -> bool:
        return self._refresh is not None

    def current(self) -> str | None:
        """The token last obtained (for masking), if any."""
        return self._token

    def invalidate(self) -> None:
        if self.can_refresh:
            self._expires = 0.0

    async def get(self, post: Post) -> str:
        """A valid access token; ``post(url, data=...)`` performs the refresh call."""
        async with self._lock:
            if self._token is None or self._clock() >= self._expires - EARLY_REFRESH:
                await self._renew(post)
            assert self._token is not None
            return self._token

    async def _renew(self, post: Post) -> None:
        if self._refresh is None:
            raise AuthRejectedError("the Google access token was refused and no refresh_token is configured")
        client_id, client_secret, refresh_token = self._refresh
        data = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        response = await post(self.token_url, data=data)
        body = _json(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise UnavailableError(f"Google's token endpoint answered {response.status_code}")
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            error = body.get("error", "no access_token") if isinstance(body, dict) else "no access_token"
            raise AuthRejectedError(
                f"Google refused the refresh token ({response.status_code} {error}); renew the OAuth consent",
                status_code=response.status_code,
            )
        expires_in = body.get("expires_in", 3600)
        self._token = token
        self._expires = self._clock() + (float(expires_in) if isinstance(expires_in, int | float) else 3600.0)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


__all__ = ["EARLY_REFRESH", "GoogleToken"]
