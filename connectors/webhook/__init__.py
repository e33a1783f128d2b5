"""The built-in ``webhook`` connector: signed batches of canonical events to any HTTPS endpoint.

Registered under the entry-point group ``relay.connectors`` as
``webhook = "connectors.webhook:WebhookConnector"``.
"""

from __future__ import annotations

from .connector import WebhookConnector
from .settings import WebhookSettings
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookConnector", "WebhookSettings", "sign", "verify"]
