"""A fake X Ads API: the Conversions API and Custom Audience users, strict like the real one.

It verifies OAuth 1.0a HMAC-SHA1 signatures with oauthlib over the exact URL each request arrived
at (a JSON body is not part of the signature), or an ``X-Pixel-Token`` on the conversions route;
validates bodies as X documents them (all-or-nothing, every error listed); answers with X's shapes
and rate-limit headers; and keeps ``conversions`` and audience membership for tests to assert on.
Routes are relative to the app's root, so it can be served alone or mounted at ``/sandbox/x``.
"""

from __future__ import annotations

from .fake import AUDIENCE_USERS_ROUTE, CONVERSIONS_ROUTE, SANDBOX_OAUTH, FakeX, RateWindow, member_keys
from .oauth import oauth_problem

__all__ = [
    "AUDIENCE_USERS_ROUTE",
    "CONVERSIONS_ROUTE",
    "SANDBOX_OAUTH",
    "FakeX",
    "RateWindow",
    "member_keys",
    "oauth_problem",
]
