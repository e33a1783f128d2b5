"""Reddit: Conversions API v3 events.

Registered under the entry-point group ``relay.connectors`` as ``reddit``.
"""

from __future__ import annotations

from .connector import RedditConnector
from .settings import RedditSettings

__all__ = ["RedditConnector", "RedditSettings"]
