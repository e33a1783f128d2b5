"""``relay audiences sync [NAME ...] [--dry-run] [--full]``: sync now, with a progress bar on stderr and a
summary table on stdout."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import TextIO

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.progress import Progress, ProgressBar
from relay.audiences.results import AudienceRun
from relay.audiences.sync import sync_audience
from relay.cli.names import chosen_names, sync_named
from relay.cli.resources import opened
from relay.cli.table import table_lines
from relay.metrics import Metrics
from relay.settings import Settings

COLUMNS = ("audience", "destination", "mode", "{add}", "{remove}", "unchanged", "platform invalid", "status")


def sync_command(
    settings: Settings,
    names: Sequence[str],
    *,
    dry_run: bool = False,
    full: bool = False,
    say: Callable[[str], None] = print,
    stream: TextIO | None = None,
    options: SyncOptions | None = None,
) -> int:
    """Sync the named audiences (all when none is named); exit code 0 when every run succeeded."""
    chosen = chosen_names(names, list(settings.audiences), "audience", "audiences")
    options = dataclasses.replace(options or SyncOptions(dry_run=dry_run, full=full), trigger="cli")
    return sync_named(
        chosen,
        "audiences",
        lambda c: asyncio.run(_sync(settings, c, options, ProgressBar(stream))),
        summary,
        say,
    )


async def _sync(
    settings: Settings, names: Sequence[str], options: SyncOptions, progress: Progress
) -> list[AudienceRun]:
    async with opened(settings) as res:
        env = SyncEnv(settings, res.db, res.connectors, Metrics())
        return [await sync_audience(env, name, options, progress) for name in names]


def summary(runs: Sequence[AudienceRun]) -> list[str]:
    """The summary table and, under it, what each source read and why rows or members were left out."""
    dry = any(r.dry_run for r in runs)
    header = [
        c.format(add="to add" if dry else "added", remove="to remove" if dry else "removed") for c in COLUMNS
    ]
    rows = [header]
    for run in runs:
        if not run.destinations:
            rows.append([run.audience, "-", "-", "-", "-", "-", "-", run.status])
        for d in run.destinations:
            add, remove = (d.to_add, d.to_remove) if run.dry_run else (d.added, d.removed)
            if run.dry_run and d.mode == "replace":
                add = d.staged  # a replace sends every member
            rows.append(
                [
                    run.audience,
                    d.destination,
                    d.mode,
                    f"{add:,}",
                    f"{remove:,}",
                    f"{d.unchanged:,}",
                    f"{d.platform_invalid:,}",
                    d.status,
                ]
            )
    lines = table_lines(rows, {3, 4, 5, 6})
    for run in runs:
        lines += _details(run)
    return lines


def _details(run: AudienceRun) -> list[str]:
    out = []
    for scope, stats in run.sources.items():
        staged = next((d.staged for d in run.destinations if d.source is stats), stats.members)
        where = run.audience if scope == "*" else f"{run.audience} → {scope}"
        invalid = sum(stats.invalid.values())
        unit, members = ("events", "people") if run.source_type == "events" else ("rows", "members")
        text = f"{where}: {stats.read:,} {unit} read, {staged:,} {members}"
        if stats.members > staged:
            text += f" ({stats.members - staged:,} duplicate rows)"
        if invalid or run.source_type != "events":
            text += f", {invalid:,} invalid rows"
        text += f", {stats.suppressed:,} suppressed"
        if run.source_type == "events":
            text += f", {stats.excluded:,} excluded by the rule"
        out.append(text)
        if stats.unknown_columns:
            out.append(f"  unknown columns ignored: {', '.join(stats.unknown_columns)}")
        out += [f"  {n:,} x {reason}" for reason, n in stats.invalid.most_common(10)]
    for d in run.destinations:
        for key, message in list(d.samples.items())[:5]:
            out.append(f"  {d.destination} reported invalid entry {key}: {message}")
        if d.error:
            out.append(f"{run.audience} → {d.destination}: {d.error}")
    if run.error and not any(d.error for d in run.destinations):
        out.append(f"{run.audience}: {run.status}: {run.error}")
    return out


__all__ = ["summary", "sync_command"]
