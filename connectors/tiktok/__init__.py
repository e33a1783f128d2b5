"""TikTok: Events API 2.0 web events and custom audiences (customer file segments).

Registered under the entry-point group ``relay.connectors`` as ``tiktok``.
"""

from __future__ import annotations

from .connector import TikTokConnector
from .settings import TikTokSettings

__all__ = ["TikTokConnector", "TikTokSettings"]
