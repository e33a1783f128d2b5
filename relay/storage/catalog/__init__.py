"""All SQL of the catalog sync and of lookalike audiences (``from relay.storage import catalog as
store``): ``tables`` (migration 0006) and ``items`` (lock, acknowledged items, lookalike records)."""

from __future__ import annotations

from relay.storage.catalog import items
from relay.storage.catalog.items import *  # noqa: F403  (the namespace is the module's public names)

__all__ = items.__all__
