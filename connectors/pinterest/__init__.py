"""Pinterest: API v5 Conversions (web and offline events).

Registered under the entry-point group ``relay.connectors`` as ``pinterest``.
"""

from __future__ import annotations

from .connector import PinterestConnector
from .settings import PinterestSettings

__all__ = ["PinterestConnector", "PinterestSettings"]
