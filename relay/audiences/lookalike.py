"""Lookalike audiences kept on the platforms from synced custom audiences (``lookalike:`` in YAML).

For each audience with ``lookalike`` specs and each destination whose connector creates lookalikes
(``lookalike_api()``: Meta), once the origin audience has been synced, one lookalike per
(country, ratio) is made to exist: a recorded one is reused; else the ad account's lookalikes are listed
and one with the same origin, country and ratio (or the same name) is adopted; only then is one
created. So a lookalike is never duplicated, even when the relay's database was reset.

:class:`LookalikeKeeper` runs this inside ``relay serve`` / ``relay worker`` every minute (a database
read when everything exists); ``relay lookalikes`` runs it by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import Connector
from relay.catalog.checks import lookalike_destinations
from relay.catalog.settings import LookalikeSettings
from relay.exceptions import RelayError
from relay.settings import Settings
from relay.storage import audiences as audience_store
from relay.storage import catalog as store
from relay.storage.db import Database

log = logging.getLogger("relay.audiences")
#: an origin audience counts as existing once a sync of it ended like this
SYNCED = ("ok", "partial")


class PlatformLookalike(Protocol):
    id: str
    name: str
    origin_audience_id: str | None
    country: str | None
    ratio: float | None


class LookalikeApi(Protocol):
    async def list(self) -> Sequence[PlatformLookalike]: ...

    async def create(self, name: str, origin_audience_id: str, country: str, ratio: float) -> str | None: ...


@dataclass
class LookalikeEnv:
    settings: Settings
    db: Database
    connectors: Mapping[str, Connector]
    clock: Callable[[], float] = time.time


def spec_key(spec: LookalikeSettings) -> str:
    return f"{spec.country}:{spec.ratio:.2f}"


def _match(
    listed: Iterable[PlatformLookalike], origin: str, spec: LookalikeSettings, name: str
) -> str | None:
    for found in listed:
        same_spec = (
            found.country == spec.country and found.ratio is not None and abs(found.ratio - spec.ratio) < 1e-6
        )
        if found.origin_audience_id == origin and same_spec:
            return found.id
    return next((found.id for found in listed if found.name == name), None)


class _Listing:
    """The ad account's lookalikes, listed at most once per destination (again after a duplicate)."""

    def __init__(self, api: LookalikeApi) -> None:
        self.api = api
        self.items: list[PlatformLookalike] | None = None

    async def get(self, *, fresh: bool = False) -> list[PlatformLookalike]:
        if self.items is None or fresh:
            self.items = list(await self.api.list())
        return self.items


async def _one(listing: _Listing, base: dict[str, Any], spec: LookalikeSettings) -> dict[str, Any]:
    origin, name = base["origin_audience_id"], base["name"]
    found = _match(await listing.get(), origin, spec, name)
    if found is not None:
        return {**base, "lookalike_id": found, "status": "found"}
    created = await listing.api.create(name, origin, spec.country, spec.ratio)
    if created is None:  # the platform says it exists after all: find it
        created = _match(await listing.get(fresh=True), origin, spec, name)
        if created is None:
            raise RelayError("the platform reports a duplicate lookalike but does not list it")
        return {**base, "lookalike_id": created, "status": "found"}
    log.info("lookalike created", extra={"audience": base["audience"], "connector": base["destination"]})
    return {**base, "lookalike_id": created, "status": "created"}


async def _origin(
    env: LookalikeEnv, audience: str, destination: str, synced: Mapping[str, Any]
) -> str | None:
    if (synced.get(audience) or {}).get("status") not in SYNCED:
        return None
    db = env.db
    return await db.run(audience_store.bound_audience_id, db.engine, audience, destination)


async def ensure_lookalikes(env: LookalikeEnv, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Make every configured lookalike (of ``names``, default all) exist; the records, one per spec."""
    db = env.db
    records = {
        (r["audience"], r["destination"], r["spec"]): r for r in await db.run(store.lookalike_rows, db.engine)
    }
    synced = await db.run(audience_store.sync_rows, db.engine)
    wanted = set(names) if names is not None else None
    out: list[dict[str, Any]] = []
    for audience, settings in env.settings.audiences.items():
        if not settings.lookalike or (wanted is not None and audience not in wanted):
            continue
        for destination in settings.destinations:
            factory = getattr(env.connectors.get(destination), "lookalike_api", None)
            if not callable(factory):
                continue
            origin = await _origin(env, audience, destination, synced)
            listing = _Listing(factory())
            for spec in settings.lookalike:
                key = (audience, destination, spec_key(spec))
                base: dict[str, Any] = {
                    "audience": audience,
                    "destination": destination,
                    "spec": key[2],
                    "name": spec.label(audience),
                    "origin_audience_id": origin or "",
                    "lookalike_id": None,
                    "error": None,
                }
                record = records.get(key)
                if record and record.get("lookalike_id") and origin in (None, record["origin_audience_id"]):
                    out.append(record)  # recorded: reused, no platform call
                    continue
                if origin is None:
                    out.append(
                        {**base, "status": "waiting", "error": "the origin audience is not synced yet"}
                    )
                    continue
                try:
                    row = await _one(listing, base, spec)
                except RelayError as exc:
                    row = {**base, "status": "failed", "error": exc.message}
                    log.warning("lookalike failed", extra={"audience": audience, "connector": destination})
                except Exception as exc:  # a connector bug fails this lookalike, not the others
                    row = {**base, "status": "failed", "error": f"connector error: {type(exc).__name__}"}
                    log.exception("lookalike failed", extra={"audience": audience, "connector": destination})
                row["updated_at"] = env.clock()
                await db.run(store.save_lookalike, db.engine, row)
                out.append(row)
    return out


def pending(settings: Settings, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The configured lookalikes no run has looked at yet (status ``pending``)."""
    seen = {(r["audience"], r["destination"], r["spec"]) for r in rows}
    out = []
    for name, audience in settings.audiences.items():
        for destination in lookalike_destinations(audience.destinations, settings.connectors):
            for spec in audience.lookalike:
                key = (name, destination, spec_key(spec))
                if key not in seen:
                    row = {"audience": name, "destination": destination, "spec": key[2], "status": "pending"}
                    out.append({**row, "name": spec.label(name)})
    return out


def describe(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per audience, its lookalikes as the admin API shows them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        country, ratio = str(row["spec"]).split(":")
        entry = {
            k: row.get(k)
            for k in ("destination", "name", "status", "lookalike_id", "origin_audience_id", "error")
        }
        out.setdefault(str(row["audience"]), []).append({**entry, "country": country, "ratio": float(ratio)})
    return out


class LookalikeKeeper:
    """Runs :func:`ensure_lookalikes` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, env: LookalikeEnv, interval: float = 60.0) -> None:
        self.env, self.interval = env, interval
        self._stopping = asyncio.Event()
        self.last: list[dict[str, Any]] = []

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Until :meth:`stop` (even with nothing to do: ``relay worker`` stops when a task ends)."""
        if not any(a.lookalike for a in self.env.settings.audiences.values()):
            await self._stopping.wait()
        while not self._stopping.is_set():
            try:
                self.last = await ensure_lookalikes(self.env)
            except RelayError as exc:
                log.warning("lookalikes", extra={"error": exc.message})
            except Exception:  # a bug: tried again next time; ending here would stop `relay worker`
                log.exception("lookalikes failed (a bug)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)


__all__ = ["LookalikeEnv", "LookalikeKeeper", "describe", "ensure_lookalikes", "pending", "spec_key"]
