"""Custom audiences: keep hashed customer lists in sync on the ad platforms (CONTRACT §5 ``audiences:``).

Data flow of one run (``sync.py``): the source (``sources.py``: csv, sql, api; ``rule.py``: events) is
streamed, normalised and hashed into a staging table; the diff engine (``diff.py``) compares it with
what each destination acknowledged and sends only the difference; ``scheduler.py`` runs audiences on
their schedule, ``command.py`` is ``relay audiences sync``, ``api.py`` the two HTTP endpoints.
"""

from __future__ import annotations

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.results import AudienceRun, DestinationResult
from relay.audiences.scheduler import AudienceScheduler
from relay.audiences.status import audience_status
from relay.audiences.sync import sync_audience

__all__ = [
    "AudienceRun",
    "AudienceScheduler",
    "DestinationResult",
    "SyncEnv",
    "SyncOptions",
    "audience_status",
    "sync_audience",
]
