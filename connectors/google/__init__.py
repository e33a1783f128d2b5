"""The built-in ``google_ads`` connector: Google Ads click / enhanced conversions and Customer Match.

Registered under the entry-point group ``relay.connectors`` as
``google_ads = "connectors.google:GoogleAdsConnector"``.
"""

from __future__ import annotations

from .connector import GoogleAdsConnector
from .settings import GoogleAdsSettings
from .token import GoogleToken

__all__ = ["GoogleAdsConnector", "GoogleAdsSettings", "GoogleToken"]
