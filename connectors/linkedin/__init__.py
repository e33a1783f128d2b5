"""The built-in ``linkedin`` connector: LinkedIn Conversions API.

Registered under the entry-point group ``relay.connectors`` as
``linkedin = "connectors.linkedin:LinkedInConnector"``.
"""

from __future__ import annotations

from .connector import LinkedInConnector
from .settings import LinkedInSettings

__all__ = ["LinkedInConnector", "LinkedInSettings"]
