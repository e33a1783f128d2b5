"""The operator's commands: ``relay check [--connect]``, ``relay deliveries`` and ``relay keys rotate``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from relay.cli.checks import problems, warnings
from relay.cli.preflight import open_storage, safe_url
from relay.config import load_settings
from relay.exceptions import ConfigError, RelayError
from relay.http.auth import configured_secrets, rotate
from relay.sandbox.address import follow_listener
from relay.settings import Settings
from relay.storage import queries
from relay.storage.queries import DeliveryFilter

Say = Callable[[str], None]


def iso(timestamp: float | None) -> str:
    """A Unix time as ISO 8601 in UTC to the second (``-`` when unset)."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(args: argparse.Namespace, say: Say, extra_warnings: Callable[[Settings], list[str]]) -> int:
    """Validate; with ``--connect`` also reach the storage and every platform. Exit 0 valid (and, with
    --connect, everything reachable), 2 invalid, 1 when a connection check failed."""
    settings = load_settings(args.config)
    base_dir = Path(args.config).resolve().parent
    found = problems(settings, base_dir)
    if found:
        (key, message), *rest = found
        more = "".join(f"\n  {k}: {m}" for k, m in rest)
        raise ConfigError(message + more, path=args.config, key=key)
    _summary(args.config, settings, say)
    _, sandbox_warnings = follow_listener(settings, settings.server.host, settings.server.port)
    for warning in [*extra_warnings(settings), *warnings(settings, base_dir), *sandbox_warnings]:
        say(f"  warning: {warning}")
    if not getattr(args, "connect", False):
        return 0
    return asyncio.run(_connect(settings, say))


def _summary(path: str, settings: Settings, say: Say) -> None:
    say(f"{path}: valid")
    say(f"  storage: {safe_url(settings.storage.url)} (retention {settings.storage.retention_days} days)")
    sandbox = "on" if settings.sandbox else "off"
    say(f"  server: {settings.server.host}:{settings.server.port}, sandbox {sandbox}")
    d = settings.consent.default
    say(f"  consent defaults: eu {d.eu}, us {d.us}, other {d.other}, unknown {d.unknown}")
    for name, c in settings.connectors.items():
        consent = c.consent
        vendor = "" if consent.tcf_vendor_id is None else f", tcf vendor {consent.tcf_vendor_id}"
        say(
            f"  connector {name}: type {c.type}{'' if c.enabled else ' (disabled)'}, api_base {c.api_base}, "
            f"tcf purposes {list(consent.tcf_purposes)}{vendor}, us opt-out {consent.us_opt_out}"
        )
    for name, a in settings.audiences.items():
        targets = ", ".join(a.destinations)
        say(f"  audience {name}: {a.source.type} source, schedule {a.schedule}, to {targets}")


async def _connect(settings: Settings, say: Say) -> int:
    from relay.cli.connect import connector_findings, storage_findings

    findings = await asyncio.to_thread(storage_findings, settings.storage.url)
    findings += await connector_findings(settings)
    say("connections:")
    for finding in findings:
        say(f"  {finding.subject}: {'ok' if finding.ok else 'FAILED'}: {finding.detail}")
    failed = [f for f in findings if not f.ok]
    if failed:
        say(f"{len(failed)} of {len(findings)} checks failed")
        return 1
    return 0


def deliveries(args: argparse.Namespace, say: Say) -> int:
    settings = load_settings(args.config)
    db = open_storage(settings.storage.url)
    try:
        f = DeliveryFilter(args.status, args.connector, getattr(args, "event_id", None), limit=args.limit)
        items = queries.list_deliveries(db.engine, f)
    finally:
        db.close()
    say(
        f"{'id':>7}  {'received (UTC)':<20} {'event_id':<38} {'event':<18} {'connector':<10} "
        f"{'status':<10} {'tries':>5}  {'next try / done':<20}  detail"
    )
    for d in items:
        detail = d["last_error"] or d["consent"]["reason"] or ""
        when = d["next_attempt_at"] if d["status"] in ("pending", "in_flight") else d["updated_at"]
        say(
            f"{d['id']:>7}  {iso(d['created_at']):<20} {d['event_id'][:38]:<38} {d['event_name'][:18]:<18} "
            f"{d['connector'][:10]:<10} {d['status']:<10} {d['attempts']:>5}  {iso(when):<20}  {detail[:80]}"
        )
    if not items:
        say("no deliveries match")
    return 0


def keys_rotate(args: argparse.Namespace, say: Say) -> int:
    """Replace the generated API key or admin token; the new one is printed once, only its digest kept."""
    name = "api_key" if args.api_key else "admin_token"
    label, key = ("API key", "server.api_keys") if args.api_key else ("admin token", "server.admin_token")
    settings = load_settings(args.config)
    if configured_secrets(settings.server)[name]:
        raise ConfigError(
            f"the {label} is set in the config: change it there (and restart); "
            "rotation replaces a generated one",
            path=args.config,
            key=key,
        )
    db = open_storage(settings.storage.url)
    try:
        value = rotate(db, name)
    except Exception as exc:
        raise RelayError(f"could not store the new {label}: {type(exc).__name__}") from exc
    finally:
        db.close()
    say(f"new {label} (shown once, store it now): {value}")
    say(f"the previous {label} stops working within seconds, also in the relays running on this storage")
    return 0
