"""Are the products events name in the catalog? Per connector and event name, the share of
``custom.content_ids`` (and ``contents[].id``) of ViewContent / AddToCart / Purchase events that are
items the platform's catalog holds: the most common reason dynamic ads show nothing.

Computed at report time from stored events over the chart window (bounded to the newest
:data:`MAX_EVENTS` deliveries), so ingest never waits on a catalog lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from relay.settings import Settings
from relay.storage import catalog as store
from relay.storage.catalog.content import content_rows
from relay.storage.db import Database

EVENTS = ("ViewContent", "AddToCart", "Purchase")
MAX_EVENTS = 50_000
MAX_MISSING_SAMPLES = 10


def content_ids(custom: Any) -> list[str]:
    """The product ids an event's custom data names: ``content_ids`` and ``contents[].id``."""
    if not isinstance(custom, Mapping):
        return []
    ids = custom.get("content_ids")
    found = (
        [str(i) for i in ids] if isinstance(ids, list) else ([str(ids)] if isinstance(ids, str | int) else [])
    )
    for item in custom.get("contents") or ():
        if isinstance(item, Mapping) and item.get("id") is not None:
            found.append(str(item["id"]))
    return list(dict.fromkeys(found))


def tally(rows: Iterable[tuple[str, str, Any]], catalog: Mapping[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Per connector, per event name: events, events without ids, ids found and missing."""
    out: dict[str, dict[str, Any]] = {}
    for connector, event_name, custom in rows:
        counts = out.setdefault(connector, {}).setdefault(
            event_name, {"events": 0, "without_ids": 0, "found": 0, "missing": 0, "missing_samples": []}
        )
        counts["events"] += 1
        ids = content_ids(custom)
        if not ids:
            counts["without_ids"] += 1
        known = catalog.get(connector, set())
        for item_id in ids:
            if item_id in known:
                counts["found"] += 1
                continue
            counts["missing"] += 1
            if (
                len(counts["missing_samples"]) < MAX_MISSING_SAMPLES
                and item_id not in counts["missing_samples"]
            ):
                counts["missing_samples"].append(item_id[:100])
    for events in out.values():
        for counts in events.values():
            total = counts["found"] + counts["missing"]
            counts["missing_share"] = round(counts["missing"] / total, 4) if total else 0.0
    return out


def catalog_connectors(settings: Settings) -> list[str]:
    """The connectors some catalog is synced to."""
    return sorted({dest for catalog in settings.catalogs.values() for dest in catalog.destinations})


def check(engine: Any, connectors: list[str], since: float, until: float) -> dict[str, dict[str, Any]]:
    """The whole check in one database call (for ``Database.run``)."""
    catalog = store.item_ids(engine, connectors)
    return tally(content_rows(engine, connectors, EVENTS, since, until, MAX_EVENTS), catalog)


async def content_coverage(settings: Settings, db: Database, since: float, until: float) -> dict[str, Any]:
    """Per connector with a catalog, per event name: how many content ids are (not) in its catalog."""
    return await db.run(check, db.engine, catalog_connectors(settings), since, until)


__all__ = ["EVENTS", "check", "content_coverage", "content_ids", "tally"]
