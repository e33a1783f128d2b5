"""``relay reconcile``: progress on stderr, the report on stdout (``--format text|json``).

Exit codes: 0 every order matched, 1 differences found, 2 an error (no orders source, unreadable
orders, storage unavailable)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from relay.cli.resources import opened
from relay.exceptions import ConfigError, RelayError
from relay.reconcile.run import Outcome, ReconcileOptions, reconcile
from relay.settings import ReconcileSettings, ReconcileSourceSettings, Settings


@dataclass(frozen=True)
class CommandArgs:
    orders: str | None = None
    format: str = "text"
    send_missing: bool = False
    since: float | None = None
    match: str | None = None


def chosen_config(settings: Settings, args: CommandArgs) -> ReconcileSettings:
    """``reconcile:`` of the config, with ``--orders`` and ``--match`` applied."""
    config = settings.reconcile
    if args.orders:
        source = ReconcileSourceSettings(type="csv", path=args.orders)
        config = config.model_copy(update={"source": source}) if config else ReconcileSettings(source=source)
    if config is None:
        raise ConfigError(
            "no orders to reconcile: give --orders FILE.csv or a reconcile: section", key="reconcile"
        )
    if args.match:
        config = ReconcileSettings.model_validate({**config.model_dump(), "match": args.match})
    return config


def reconcile_command(
    settings: Settings, args: CommandArgs, *, say: Callable[[str], None] = print, stream: TextIO | None = None
) -> int:
    err = stream or sys.stderr

    def progress(text: str) -> None:
        print(f"relay reconcile: {text}", file=err, flush=True)

    try:
        config = chosen_config(settings, args)
    except ValueError as exc:  # pydantic's ValidationError: a bad --match
        raise ConfigError(f"--match: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
    try:
        outcome = asyncio.run(_run(settings, config, args, progress))
    except RelayError as exc:
        print(f"relay: error: {exc.message}", file=err, flush=True)
        return 2
    for line in render(outcome, args.format):
        say(line)
    return 0 if outcome.report.status == "matched" else 1


async def _run(
    settings: Settings, config: ReconcileSettings, args: CommandArgs, progress: Callable[[str], None]
) -> Outcome:
    async with opened(settings, connectors=args.send_missing) as res:
        options = ReconcileOptions("cli", args.send_missing, args.since)
        return await reconcile(settings, config, res.db, res.connectors, options, progress)


def main(args: argparse.Namespace) -> int:
    """The ``relay reconcile`` handler (``relay.cli`` parsed the arguments)."""
    from relay.config import load_settings
    from relay.duration import parse_instant

    try:
        since = parse_instant(args.since)
    except ValueError:
        raise ConfigError(f"--since: {args.since!r} is not an ISO-8601 time or Unix seconds") from None
    settings = load_settings(args.config)
    command = CommandArgs(args.orders, args.format, args.send_missing, since, args.match)
    return reconcile_command(settings, command)


def render(outcome: Outcome, fmt: str) -> list[str]:
    if fmt == "json":
        return [json.dumps(outcome.as_dict(), indent=2, sort_keys=True)]
    data = outcome.as_dict()
    s = data["summary"]
    lines = [
        f"reconcile run {data['run_id']}: {data['source']}, matched by {data['match']}, "
        f"{s['orders']} orders ({s['outside_window']} outside the window)",
    ]
    rows = [("matched", s["matched"]), ("not tracked", s["not_tracked"]), ("duplicates", s["duplicates"]),
            ("value mismatch", s["value_mismatch"]), ("currency mismatch", s["currency_mismatch"]),
            ("invalid rows", s["invalid"])]  # fmt: skip
    lines += [f"  {label:<18}{n:>8,}" for label, n in rows]
    if s["delivered"]:
        lines.append("delivered: " + ", ".join(f"{c} {n}" for c, n in s["delivered"].items()))
    for connector, reasons in s["not_delivered"].items():
        lines.append(
            f"not delivered to {connector}: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
        )
    findings = data["findings"]
    if findings:
        lines.append("findings:")
        width = max(len(f["order_id"]) for f in findings)
        for f in findings:
            where = f" [{f['connector']}]" if f.get("connector") else ""
            lines.append(f"  {f['order_id']:<{width}}  {f['kind']}{where}  {f.get('detail', '')}".rstrip())
    if (sent := data["send_missing"]) is not None:
        lines.append(_sent_line(sent))
    exit_code = 0 if data["status"] == "matched" else 1
    lines.append(f"status: {data['status']} (exit {exit_code})")
    return lines


def _sent_line(sent: dict[str, list[object]]) -> str:
    def part(label: str, items: list[object]) -> str:
        ids = [str(i["order_id"]) if isinstance(i, dict) else str(i) for i in items]
        shown = f" ({', '.join(ids[:10])}{', ...' if len(ids) > 10 else ''})" if ids else ""
        return f"{label} {len(ids)}{shown}"

    return "send-missing: " + "; ".join(
        part(label, sent[key])
        for label, key in (
            ("sent", "sent"),
            ("no consent basis, not sent", "no_consent_basis"),
            ("consent refused, not sent", "consent_refused"),
            ("too recent, sent by a later run", "too_recent"),
            ("rejected", "rejected"),
        )
    )


__all__ = ["CommandArgs", "chosen_config", "reconcile_command", "render"]
