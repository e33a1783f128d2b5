"""The built-in ``x`` connector: X (Twitter) Conversions API and Custom Audiences.

Registered under the entry-point group ``relay.connectors`` as ``x = "connectors.x:XConnector"``.
"""

from __future__ import annotations

from .connector import XConnector
from .oauth1 import OAuth1Auth, OAuth1Credentials
from .ratelimit import XRateLimiter
from .settings import XSettings

__all__ = ["OAuth1Auth", "OAuth1Credentials", "XConnector", "XRateLimiter", "XSettings"]
