"""Snapchat: Conversions API v3 web events.

Registered under the entry-point group ``relay.connectors`` as ``snap``.
"""

from __future__ import annotations

from .connector import SnapConnector
from .settings import SnapSettings

__all__ = ["SnapConnector", "SnapSettings"]
