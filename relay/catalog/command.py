"""``relay catalog sync [NAME ...] [--dry-run] [--full]`` and ``relay lookalikes [AUDIENCE ...]``:
progress lines on stderr, a summary table on stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from relay.audiences.lookalike import LookalikeEnv, ensure_lookalikes
from relay.catalog.results import CatalogRun
from relay.catalog.sync import CatalogEnv, CatalogOptions, sync_catalog
from relay.cli.names import chosen_names, sync_named
from relay.cli.resources import opened
from relay.cli.table import table_lines
from relay.config import load_settings
from relay.settings import Settings

Say = Callable[[str], None]
COLUMNS = ("catalog", "destination", "created", "updated", "deleted", "unchanged", "refused", "status")
NUMERIC = range(2, 7)


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def sync_command(
    settings: Settings,
    names: Sequence[str],
    options: CatalogOptions,
    say: Say = print,
    progress: Say = _stderr,
) -> int:
    """Sync the named catalogs (all when none is named); exit code 0 when every run succeeded."""
    chosen = chosen_names(names, list(settings.catalogs), "catalog", "catalogs")

    def sync(chosen: Sequence[str]) -> list[CatalogRun]:
        return asyncio.run(_with_env(settings, lambda env: _sync_all(env, chosen, options, progress)))

    return sync_named(chosen, "catalogs", sync, summary, say)


async def _sync_all(
    env: CatalogEnv, names: Sequence[str], options: CatalogOptions, progress: Say
) -> list[CatalogRun]:
    return [await sync_catalog(env, name, options, progress) for name in names]


async def _with_env(settings: Settings, body: Callable[[CatalogEnv], Any]) -> Any:
    async with opened(settings) as res:
        return await body(CatalogEnv(settings, res.db, res.connectors, res.client))


def summary(runs: Sequence[CatalogRun]) -> list[str]:
    """The table of counts per destination, then the source's invalid rows and the refused items."""
    rows = [list(COLUMNS)]
    for run in runs:
        if not run.destinations:
            rows.append([run.catalog, "-", "-", "-", "-", "-", "-", run.status])
        for d in run.destinations:
            counts = [f"{n:,}" for n in (d.created, d.updated, d.deleted, d.unchanged, d.refused)]
            rows.append([run.catalog, d.destination, *counts, d.status])
    lines = table_lines(rows, NUMERIC)
    for run in runs:
        lines += _details(run)
    return lines


def _details(run: CatalogRun) -> list[str]:
    out = []
    if run.source:
        s = run.source
        out.append(
            f"{run.catalog}: {s['rows']:,} rows read, {s['products']:,} products, {s['invalid']:,} invalid"
        )
        out += [f"  {sample}" for sample in s.get("invalid_samples", [])[:10]]
    for d in run.destinations:
        out += [
            f"  {d.destination} refused item {item}: {message}"
            for item, message in list(d.samples.items())[:10]
        ]
        if d.error:
            out.append(f"{run.catalog} → {d.destination}: {d.error}")
    if run.error and not any(d.error for d in run.destinations):
        out.append(f"{run.catalog}: {run.status}: {run.error}")
    return out


def lookalikes_command(settings: Settings, names: Sequence[str], say: Say = print) -> int:
    """Create the missing lookalikes of the named audiences (all when none is named) and list them."""
    with_lookalikes = [n for n, a in settings.audiences.items() if a.lookalike]
    chosen = chosen_names(names, with_lookalikes, "audience with a lookalike", "audiences")

    async def body(env: CatalogEnv) -> list[dict[str, Any]]:
        return await ensure_lookalikes(LookalikeEnv(env.settings, env.db, env.connectors), chosen)

    rows = asyncio.run(_with_env(settings, body))
    for row in rows:
        where = f"{row['audience']} → {row['destination']} {row['spec']}"
        ident = row.get("lookalike_id") or "-"
        say(
            f"{where}: {row['status']} {ident} {row['name']!r}"
            + (f": {row['error']}" if row.get("error") else "")
        )
    return 0 if all(r["status"] != "failed" for r in rows) else 1


def catalog_main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    options = CatalogOptions(dry_run=args.dry_run, full=args.full)
    return sync_command(settings, args.names, options)


def lookalikes_main(args: argparse.Namespace) -> int:
    return lookalikes_command(load_settings(args.config), args.names)


__all__ = ["catalog_main", "lookalikes_command", "lookalikes_main", "summary", "sync_command"]
