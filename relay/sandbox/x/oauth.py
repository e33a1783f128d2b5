"""Server-side verification of OAuth 1.0a HMAC-SHA1 signatures with oauthlib (RFC 5849 §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature, utils

from relay.sandbox.base import RecordedRequest

#: (consumer key, access token) -> (consumer secret, access token secret)
Credentials = Mapping[tuple[str, str], tuple[str, str]]


def header_params(header: str) -> dict[str, str]:
    """The (decoded) parameters of an ``Authorization: OAuth ...`` header; ``ValueError`` if malformed."""
    return {key: utils.unescape(value) for key, value in utils.parse_authorization_header(header)}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What oauthlib's HMAC verifier reads of a request (the attributes its server endpoints set)."""

    uri: str
    http_method: str
    params: list[tuple[str, str]]
    signature: str


def signed_request(recorded: RecordedRequest, signature_value: str) -> SignedRequest:
    """The request as oauthlib's verifier sees it: the exact URL it arrived at and its signed parameters.

    Only a form-encoded body is signed (RFC 5849 §3.4.1.3.1); a JSON body is not.
    """
    content_type = recorded.headers.get("content-type", "").split(";")[0].strip().lower()
    form = recorded.body.decode() if content_type == "application/x-www-form-urlencoded" else None
    params = signature.collect_parameters(
        uri_query=recorded.url.partition("?")[2],
        body=form,
        headers={"Authorization": recorded.headers["authorization"]},
    )
    return SignedRequest(recorded.url, recorded.method.upper(), params, signature_value)


def oauth_problem(
    recorded: RecordedRequest,
    credentials: Credentials,
    *,
    now: float | None = None,
    skew: float | None = None,
) -> str | None:
    """Why the request's OAuth 1.0a signature does not verify (``None`` when it does).

    With ``now`` and ``skew``, ``oauth_timestamp`` must also be within ``skew`` seconds of ``now``.
    """
    try:
        params = header_params(recorded.headers["authorization"])
    except (KeyError, ValueError):
        return "malformed Authorization header"
    secrets = credentials.get((params.get("oauth_consumer_key", ""), params.get("oauth_token", "")))
    if secrets is None:
        return "unknown consumer key or access token"
    if params.get("oauth_signature_method") != "HMAC-SHA1" or params.get("oauth_version", "1.0") != "1.0":
        return "unsupported signature method or version"
    timestamp = params.get("oauth_timestamp", "")
    if not timestamp.isdigit() or not params.get("oauth_nonce"):
        return "missing timestamp or nonce"
    if now is not None and skew is not None and abs(now - int(timestamp)) > skew:
        return "timestamp out of range"
    request = signed_request(recorded, params.get("oauth_signature", ""))
    if not signature.verify_hmac_sha1(cast(Request, request), *secrets):
        return "invalid signature"
    return None


__all__ = ["Credentials", "SignedRequest", "header_params", "oauth_problem", "signed_request"]
