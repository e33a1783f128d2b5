"""One run of one catalog: take its lock, read the source, send each destination what changed.

Per destination the relay remembers the items the platform took with a fingerprint of what it got
(``catalog_items``); a run sends CREATE for new products, UPDATE for changed ones and DELETE for items
gone from the source, in batches of the platform's limit. Each batch is polled until the platform has
processed it and then recorded at once, so a run stopped at any moment resumes where it stopped.
Items the platform refused are recorded as refused (with its message) and sent again once they change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from connectors.base import Connector
from relay.catalog.api import BatchStatus, CatalogApi, ItemRequest
from relay.catalog.checks import catalog_id
from relay.catalog.diff import diff
from relay.catalog.results import CatalogRun, DestinationRun
from relay.catalog.settings import CatalogSettings
from relay.catalog.sources import CatalogRead, read_source
from relay.exceptions import ConfigError, RelayError
from relay.settings import Settings
from relay.storage import catalog as store
from relay.storage.db import Database

log = logging.getLogger("relay.catalog")
Say = Callable[[str], None]


@dataclass
class CatalogEnv:
    """What a catalog run uses; ``client`` downloads url feeds."""

    settings: Settings
    db: Database
    connectors: Mapping[str, Connector]
    client: httpx.AsyncClient
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class CatalogOptions:
    dry_run: bool = False
    #: send every product again (UPDATE), not only the changed ones
    full: bool = False
    poll_interval: float = 2.0
    #: a batch the platform has not finished after this long fails its destination (resent next run)
    poll_timeout: float = 900.0
    lease_seconds: float = 1800.0
    batch_size: int | None = None


@dataclass
class _Run:
    env: CatalogEnv
    name: str
    options: CatalogOptions
    say: Say
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")


def catalog_api(connector: Connector) -> CatalogApi:
    factory = getattr(connector, "catalog_api", None)
    api = factory() if callable(factory) else None
    if not isinstance(api, CatalogApi):
        raise ConfigError(f"connector {connector.name!r} ({connector.type_name}) has no product catalog")
    return api


async def sync_catalog(
    env: CatalogEnv, name: str, options: CatalogOptions | None = None, say: Say | None = None
) -> CatalogRun:
    """Run catalog ``name`` once; a run already going on elsewhere makes this one ``busy``."""
    options = options or CatalogOptions()
    catalog = env.settings.catalogs.get(name)
    if catalog is None:
        raise ConfigError(f"no catalog named {name!r} in the config", key="catalogs")
    state = _Run(env, name, options, say or (lambda _text: None))
    run = CatalogRun(name, source_type=catalog.source.type)
    run.start(options, env.clock())
    db = env.db
    if not options.dry_run:
        got = await db.run(store.acquire, db.engine, name, state.owner, env.clock(), options.lease_seconds)
        if not got:
            run.status, run.error = "busy", "another run of this catalog is in progress"
            run.finished_at = env.clock()
            return run
    try:
        await _run(state, catalog, run)
    except RelayError as exc:
        run.status, run.error = "failed", exc.message
    except Exception as exc:  # a bug must not stop the scheduler; what was recorded stays true
        log.exception("catalog sync failed", extra={"catalog": name})
        run.status, run.error = "failed", f"internal error: {type(exc).__name__}"
    finally:
        run.finish(env.clock())
        if not options.dry_run:
            summary = json.dumps(run.as_dict())
            await db.run(
                store.release, db.engine, name, state.owner, env.clock(), run.status, summary, run.error
            )
        log.info("catalog synced", extra={"catalog": name, "status": run.status, "error": run.error or ""})
    return run


async def _run(state: _Run, catalog: CatalogSettings, run: CatalogRun) -> None:
    state.say(f"catalog {state.name}: reading the {catalog.source.type} source")
    read = await read_source(catalog.source, state.env.client)
    run.source = read.as_dict()
    state.say(
        f"catalog {state.name}: {read.rows:,} rows, {len(read.products):,} products, {read.invalid:,} invalid"
    )
    for dest, options in catalog.destinations.items():
        block = state.env.settings.connectors[dest]
        result = DestinationRun(dest, catalog_id(block, options.catalog_id) or "")
        run.destinations.append(result)
        try:
            await _destination(state, read, result, options.batch_size)
        except RelayError as exc:
            result.status, result.error = "failed", exc.message
            log.warning("catalog destination failed", extra={"catalog": state.name, "connector": dest})
        except Exception as exc:  # a connector bug fails its destination, not the others
            log.exception("catalog destination failed", extra={"catalog": state.name, "connector": dest})
            result.status, result.error = "failed", f"connector error: {type(exc).__name__}"
    run.conclude()


async def _destination(
    state: _Run, read: CatalogRead, result: DestinationRun, batch_size: int | None
) -> None:
    env, db = state.env, state.env.db
    connector = env.connectors[result.destination]
    api = catalog_api(connector)
    known = await db.run(store.known, db.engine, state.name, result.destination)
    changes = diff(read.products, known, read.invalid_ids, full=state.options.full)
    result.unchanged = changes.unchanged
    counts = {m: changes.count(m) for m in ("CREATE", "UPDATE", "DELETE")}
    state.say(
        f"catalog {state.name} → {result.destination}: {counts['CREATE']:,} to create, "
        f"{counts['UPDATE']:,} to update, {counts['DELETE']:,} to delete, {changes.unchanged:,} unchanged"
    )
    if state.options.dry_run:
        result.created, result.updated, result.deleted = counts["CREATE"], counts["UPDATE"], counts["DELETE"]
        result.status = "dry-run"
        return
    size = min(api.max_batch, batch_size or api.max_batch, state.options.batch_size or api.max_batch)
    batches = [changes.requests[i : i + size] for i in range(0, len(changes.requests), size)]
    for number, batch in enumerate(batches, start=1):
        where = f"catalog {state.name} → {result.destination}"
        state.say(f"{where}: batch {number}/{len(batches)}, {len(batch):,} items, waiting for the platform")
        errors = await _send(state, api, result.catalog_id, batch)
        await _record(state, result, batch, errors)
    result.status = "ok"


async def _send(
    state: _Run, api: CatalogApi, platform_catalog: str, batch: Sequence[ItemRequest]
) -> dict[str, str]:
    """Send one batch and wait for the platform to process it; the refused items, by id."""
    ticket = await api.send(platform_catalog, batch)
    errors = dict(ticket.errors)
    if ticket.handle is None:
        return errors
    status = await _poll(state, api, platform_catalog, ticket.handle)
    if status.failed:
        raise _BatchFailed(f"the platform ended batch {ticket.handle[:40]} with status {status.state}")
    errors.update(status.errors)
    return errors


async def _poll(state: _Run, api: CatalogApi, platform_catalog: str, handle: str) -> BatchStatus:
    env, options = state.env, state.options
    deadline = env.clock() + options.poll_timeout
    wait = min(0.2, options.poll_interval)
    while True:
        status = await api.status(platform_catalog, handle)
        if status.finished:
            return status
        if env.clock() >= deadline:
            raise _BatchFailed(
                f"batch not processed after {options.poll_timeout:.0f}s (status {status.state}); "
                "the next run sends it again"
            )
        await asyncio.sleep(wait)
        wait = min(wait * 2, options.poll_interval)
        await env.db.run(
            store.renew, env.db.engine, state.name, state.owner, env.clock(), options.lease_seconds
        )


async def _record(
    state: _Run, result: DestinationRun, batch: Sequence[ItemRequest], errors: dict[str, str]
) -> None:
    upserts: list[store.Ack] = []
    deleted: list[str] = []
    for request in batch:
        error = errors.get(request.item_id)
        if request.method == "DELETE":
            if error is None:
                deleted.append(request.item_id)
                result.deleted += 1
        elif request.product is not None:
            upserts.append((request.item_id, request.product.fingerprint, error))
            if error is None:
                result.created += request.method == "CREATE"
                result.updated += request.method == "UPDATE"
    ids = {r.item_id for r in batch}
    result.refuse({k: v for k, v in errors.items() if k in ids})
    result.batches += 1
    db = state.env.db
    await db.run(
        store.acknowledge, db.engine, state.name, result.destination, upserts, deleted, state.env.clock()
    )


class _BatchFailed(RelayError):
    """The platform did not finish a batch."""


__all__ = ["CatalogEnv", "CatalogOptions", "catalog_api", "sync_catalog"]
