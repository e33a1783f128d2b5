"""``relay audiences status [NAME ...] [--runs N]``: each audience's last and next run, its size (members in
the source at the last run, and per destination the members its platform acknowledged) and its last runs
with what each added, removed and failed, read from the database like the dashboard."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from relay.audiences.status import describe
from relay.cli.names import chosen_names
from relay.cli.preflight import open_storage
from relay.cli.table import table_lines
from relay.settings import Settings
from relay.storage import audiences as store
from relay.storage import reports

RUN_COLUMNS = ("finished (UTC)", "by", "outcome", "added", "removed", "failed", "members")
NUMERIC = {3, 4, 5, 6}


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def status_command(
    settings: Settings,
    names: Sequence[str],
    *,
    runs: int = 5,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.time,
) -> int:
    """Print the status and last ``runs`` runs of the named audiences (all when none is named)."""
    chosen = chosen_names(names, list(settings.audiences), "audience", "audiences")
    if not chosen:
        say("no audiences configured")
        return 0
    db = open_storage(settings.storage.url)
    try:
        rows = store.sync_rows(db.engine)
        sizes = reports.audience_sizes(db.engine)
        recent = store.recent_runs(db.engine, chosen, max(runs, 0) or 1)
    finally:
        db.close()
    now = clock()
    for name in chosen:
        status = describe(name, settings.audiences[name], rows.get(name), now)
        for line in audience_lines(name, status, sizes.get(name, {}), recent[name][: max(runs, 0)]):
            say(line)
    return 0


def audience_lines(
    name: str, status: Mapping[str, Any], sizes: Mapping[str, int], runs: Sequence[Mapping[str, Any]]
) -> list[str]:
    """One audience: a headline, its sizes and a table of its last runs (newest first)."""
    next_run = "manual" if status["schedule"] == "manual" else _iso(status["next_run_at"])
    lines = [
        f"{name}: {status['status']} · {status['source']} source · schedule {status['schedule']} · "
        f"last run {_iso(status['finished_at'])} · next run {next_run}"
    ]
    members = _number(runs[0]["members"]) if runs else "-"
    held = ", ".join(f"{d} {sizes.get(d, 0):,}" for d in status["destinations_configured"])
    lines.append(
        f"  size: {members} in the source at the last run; acknowledged: {held or 'no destinations'}"
    )
    if not runs:
        lines.append("  no runs recorded yet")
        return lines
    table = [list(RUN_COLUMNS)] + [
        [
            _iso(r["finished_at"]),
            r["trigger"],
            r["status"],
            _number(r["added"]),
            _number(r["removed"]),
            _number(r["failed"]),
            _number(r["members"]),
        ]
        for r in runs
    ]
    for line, run in zip(table_lines(table, NUMERIC), [None, *runs], strict=True):
        lines.append("  " + line)
        if run is not None and run["error"]:
            lines.append(f"    {run['error']}")
    return lines


__all__ = ["audience_lines", "status_command"]
