"""OAuth 1.0a HMAC-SHA1 request signing (RFC 5849) for httpx, built on oauthlib's primitives.

Only ``application/x-www-form-urlencoded`` bodies take part in the signature (RFC 5849
§3.4.1.3.1); a JSON body is neither signed nor hashed (no ``oauth_body_hash``), exactly as X's
own SDK signs, and it is left untouched on the request. (authlib's httpx integration empties
JSON bodies; that is why this module exists.)
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from oauthlib.common import generate_nonce, generate_timestamp
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature
from oauthlib.oauth1.rfc5849.utils import escape

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class OAuth1Credentials:
    """The four secrets of OAuth 1.0a user context."""

    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


def base_string(method: str, url: str, oauth_params: Mapping[str, str], form_body: str | None = None) -> str:
    """The signature base string of a request (RFC 5849 §3.4.1).

    ``oauth_params`` are the protocol parameters as sent (raw, not percent-encoded); ``realm`` and
    ``oauth_signature`` are left out. ``form_body`` is a form-encoded body, the only kind that is signed.
    """
    params = signature.collect_parameters(uri_query=urlsplit(url).query, body=form_body or [])
    params += [(k, v) for k, v in oauth_params.items() if k not in ("realm", "oauth_signature")]
    # a list, not a dict: repeated query parameters are all signed (the stub's dict type is too narrow)
    normalized = signature.normalize_parameters(params)  # type: ignore[arg-type]
    http_method = cast(Any, method.upper())
    return signature.signature_base_string(http_method, signature.base_string_uri(url), normalized)


def hmac_sha1(base: str, consumer_secret: str, token_secret: str) -> str:
    """The base64 HMAC-SHA1 signature of ``base`` with key ``pct(consumer_secret)&pct(token_secret)``."""
    signer = Client("", client_secret=consumer_secret, resource_owner_secret=token_secret)
    return str(signature.sign_hmac_sha1_with_client(base, signer))


def form_body(request: httpx.Request) -> str | None:
    """The body of ``request`` when it is form-encoded (and so signed), else ``None``."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        return None
    return request.content.decode("ascii")


class OAuth1Auth(httpx.Auth):
    """Signs each request with OAuth 1.0a HMAC-SHA1 and sets only its ``Authorization`` header.

    ``nonce`` and ``timestamp`` are injectable so the published test vectors can be replayed;
    ``version`` is ``"1.0"`` like X's SDK sends (``None`` leaves ``oauth_version`` out).
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: OAuth1Credentials,
        *,
        nonce: Callable[[], str] = generate_nonce,
        timestamp: Callable[[], str] = generate_timestamp,
        version: str | None = "1.0",
    ) -> None:
        self.credentials = credentials
        self._nonce = nonce
        self._timestamp = timestamp
        self._version = version

    def oauth_params(self) -> dict[str, str]:
        """Fresh protocol parameters (a new nonce and timestamp), without the signature."""
        params = {
            "oauth_consumer_key": self.credentials.consumer_key,
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": self._timestamp(),
            "oauth_token": self.credentials.token,
        }
        if self._version is not None:
            params["oauth_version"] = self._version
        return params

    def sign(self, method: str, url: str, body: str | None = None) -> dict[str, str]:
        """The protocol parameters of a request, ``oauth_signature`` included."""
        params = self.oauth_params()
        base = base_string(method, url, params, body)
        creds = self.credentials
        params["oauth_signature"] = hmac_sha1(base, creds.consumer_secret, creds.token_secret)
        return params

    def authorization(self, method: str, url: str, body: str | None = None) -> str:
        """The ``Authorization: OAuth ...`` header value for a request."""
        params = self.sign(method, url, body)
        return "OAuth " + ", ".join(f'{escape(k)}="{escape(v)}"' for k, v in params.items())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.authorization(
            request.method, str(request.url), form_body(request)
        )
        yield request


__all__ = ["FORM_CONTENT_TYPE", "OAuth1Auth", "OAuth1Credentials", "base_string", "form_body", "hmac_sha1"]
