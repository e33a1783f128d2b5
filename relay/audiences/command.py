"""``relay audiences sync [NAME ...] [--dry-run] [--full]``: sync now, with a progress bar on stderr and a
summary table on stdout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TextIO

from relay.audiences.context import SyncEnv, SyncOptions
from relay.audiences.progress import Progress, ProgressBar
from relay.audiences.results import AudienceRun
from relay.audiences.sync import sync_audience
from relay.exceptions import ConfigError
from relay.metrics import Metrics
from relay.settings import Settings
from relay.state import build_connectors, make_client
from relay.storage.db import Database

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
    unknown = [n for n in names if n not in settings.audiences]
    if unknown:
        known = ", ".join(sorted(settings.audiences)) or "none configured"
        raise ConfigError(
            f"no audience named {', '.join(map(repr, unknown))} (configured: {known})", key="audiences"
        )
    chosen = list(dict.fromkeys(names)) or list(settings.audiences)
    if not chosen:
        say("no audiences configured")
        return 0
    options = options or SyncOptions(dry_run=dry_run, full=full)
    runs = asyncio.run(_sync(settings, chosen, options, ProgressBar(stream)))
    for line in summary(runs):
        say(line)
    return 0 if all(r.status in ("ok", "dry-run") for r in runs) else 1


async def _sync(
    settings: Settings, names: Sequence[str], options: SyncOptions, progress: Progress
) -> list[AudienceRun]:
    db = Database(settings.storage.url)
    await db.run(db.migrate)
    client = make_client(settings)
    connectors = build_connectors(settings, client)
    env = SyncEnv(settings, db, connectors, Metrics())
    try:
        return [await sync_audience(env, name, options, progress) for name in names]
    finally:
        for connector in connectors.values():
            await connector.aclose()
        await client.aclose()
        db.close()


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
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    numeric = {3, 4, 5, 6}
    lines = [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
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
