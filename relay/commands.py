"""What each ``relay`` command does; ``relay.cli`` parses the arguments."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

from sqlalchemy.engine import make_url

from relay.config import load_settings
from relay.duration import parse_instant
from relay.exceptions import ConfigError, RelayError
from relay.logs import setup_logging
from relay.registry import connector_types
from relay.settings import Settings
from relay.storage import queries
from relay.storage.db import Database
from relay.storage.queries import DeliveryFilter


def _say(text: str) -> None:
    print(text, flush=True)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from relay.app import create_app
    from relay.server import uvicorn_config

    settings = load_settings(args.config)
    setup_logging("DEBUG" if args.debug else "INFO")
    host = args.host or settings.server.host
    port = int(args.port if args.port is not None else settings.server.port)
    app = create_app(settings, run_worker=not args.no_worker, announce=_say)
    _say(f"relay: serving {args.config} on http://{host}:{port} (storage {_safe_url(settings.storage.url)})")
    _say(f"relay: dashboard http://{host}:{port}/admin/")
    if settings.sandbox:
        _say(f"relay: sandbox on: demo shop http://{host}:{port}/sandbox/shop, fake platforms in /sandbox/")
    for warning in config_warnings(settings):
        _say(f"relay: warning: {warning}")
    server = uvicorn.Server(uvicorn_config(app, settings.server, host=host, port=port))
    server.run()
    if not server.started:
        raise RelayError(f"could not serve on {host}:{port} (see the message above)")
    return 0


def worker(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    setup_logging("DEBUG" if args.debug else "INFO")
    asyncio.run(_worker(settings))
    return 0


async def _worker(settings: Settings) -> None:
    from relay.app import start, start_background, stop

    relay = await start(settings, announce=_say)
    background = start_background(relay)  # the same worker, scheduler and housekeeping as `relay serve`
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    names = ", ".join(relay.connectors) or "no connectors"
    _say(f"relay: worker {background.worker.worker_id} delivering for {names}")
    stop_requested = asyncio.create_task(stopping.wait())
    try:
        # until a signal, or until a background task ends on its own (it never should: then stop and say so)
        await asyncio.wait([stop_requested, *background.tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_requested.cancel()
        await background.aclose()
        await stop(relay)


def check(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    _say(f"{args.config}: valid")
    _say(f"  storage: {_safe_url(settings.storage.url)} (retention {settings.storage.retention_days} days)")
    sandbox = "on" if settings.sandbox else "off"
    _say(f"  server: {settings.server.host}:{settings.server.port}, sandbox {sandbox}")
    d = settings.consent.default
    _say(f"  consent defaults: eu {d.eu}, us {d.us}, other {d.other}, unknown {d.unknown}")
    for name, c in settings.connectors.items():
        consent = c.consent
        _say(
            f"  connector {name}: type {c.type}{'' if c.enabled else ' (disabled)'}, api_base {c.api_base}, "
            f"tcf purposes {list(consent.tcf_purposes)}, us opt-out {consent.us_opt_out}"
        )
    for name, a in settings.audiences.items():
        targets = ", ".join(a.destinations)
        _say(f"  audience {name}: {a.source.type} source, schedule {a.schedule}, to {targets}")
    for warning in config_warnings(settings):
        _say(f"  warning: {warning}")
    return 0


def config_warnings(settings: Settings) -> list[str]:
    """Settings that are valid but probably not what a deployment wants."""
    server = settings.server
    geo = [f"server.{key}" for key in ("country_header", "region_header") if getattr(server, key)]
    if geo and not server.trusted_proxies:
        return [
            f"{' and '.join(geo)} are believed from every client, because server.trusted_proxies is empty: "
            "fine when a CDN that sets them is the only way in; otherwise list the proxies that set them"
        ]
    return []


def _db(settings: Settings) -> Database:
    db = Database(settings.storage.url)
    db.migrate()
    return db


def connectors(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "resume":
        settings = load_settings(args.config)
        if args.name not in settings.connectors:
            raise ConfigError(f"no connector named {args.name!r} in the config", path=args.config)
        db = _db(settings)
        was_paused = queries.resume_connector(db.engine, args.name)
        _say(f"{args.name}: {'resumed' if was_paused else 'was not paused'}; state active")
        return 0
    types = connector_types()
    _say("installed connector types:")
    for t in types.values():
        _say(f"  {t.name:<12} {t.package} {t.version}  capabilities: {', '.join(t.capabilities)}")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        _say(f"configured connectors: none shown ({exc})")
        return 0
    db = _db(settings)
    states = queries.connector_states(db.engine)
    _say("configured connectors:")
    for name, c in settings.connectors.items():
        st = states.get(name, {})
        state = st.get("state", "active")
        reason = f" ({st['reason']})" if state == "paused" and st.get("reason") else ""
        _say(f"  {name:<12} type {c.type:<8} {state}{reason}")
    return 0


def deliveries(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    db = _db(settings)
    items = queries.list_deliveries(db.engine, DeliveryFilter(args.status, args.connector, limit=args.limit))
    _say(f"{'id':>7}  {'event_id':<38} {'event':<18} {'connector':<10} {'status':<10} {'tries':>5}  detail")
    for d in items:
        detail = d["last_error"] or d["consent"]["reason"] or ""
        _say(
            f"{d['id']:>7}  {d['event_id'][:38]:<38} {d['event_name'][:18]:<18} {d['connector'][:10]:<10} "
            f"{d['status']:<10} {d['attempts']:>5}  {detail[:80]}"
        )
    return 0


def replay(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    try:
        since, until = parse_instant(args.since), parse_instant(args.until)
    except ValueError:
        raise RelayError("--since and --until take ISO-8601 times such as 2026-11-01T00:00:00Z") from None
    db = _db(settings)
    f = DeliveryFilter(args.status, args.connector, args.event_id, since, until)
    _say(f"requeued {queries.replay(db.engine, f, time.time())}")
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    _db(settings)
    _say(f"database {_safe_url(settings.storage.url)} is at the latest schema")
    return 0


def purge(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    db = _db(settings)
    cutoff = time.time() - settings.storage.retention_days * 86400
    result = queries.purge(db.engine, cutoff)
    deleted, stripped = result["events_deleted"], result["events_stripped"]
    _say(f"purged: {deleted} events deleted, {stripped} stripped of IP and user agent")
    return 0


def send_test_event(args: argparse.Namespace) -> int:
    from relay.testevent import send_test_event as run

    settings = load_settings(args.config)
    return asyncio.run(run(settings, args.connector, args.event, _say))


def audiences(args: argparse.Namespace) -> int:
    from relay.audiences.command import sync_command

    settings = load_settings(args.config)
    return sync_command(settings, args.names, dry_run=args.dry_run, full=args.full, say=_say)
