"""Meta (Facebook / Instagram): Conversions API events and Custom Audiences.

Registered under the entry-point group ``relay.connectors`` as ``meta``.
"""

from __future__ import annotations

from connectors.meta.connector import MetaConnector, appsecret_proof
from connectors.meta.settings import MetaSettings

__all__ = ["MetaConnector", "MetaSettings", "appsecret_proof"]
