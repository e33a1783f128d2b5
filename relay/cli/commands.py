"""What each ``relay`` command does; ``relay.cli`` parses the arguments."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import socket
import time

from sqlalchemy.engine import make_url

from relay.cli.preflight import check_port, open_storage
from relay.config import load_settings
from relay.duration import parse_instant
from relay.exceptions import ConfigError, RelayError
from relay.logs import setup_logging
from relay.masking import secret_values
from relay.registry import connector_types
from relay.sandbox.address import follow_listener
from relay.settings import Settings
from relay.storage import queries
from relay.storage.db import Database
from relay.storage.queries import DeliveryFilter


def _say(text: str) -> None:
    print(text, flush=True)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def freeze_heap() -> None:
    """Everything built at start-up lives as long as the process: keep it out of the cyclic GC's work,
    whose full collections otherwise pause the event loop for tens of milliseconds under load."""
    gc.collect()
    gc.freeze()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from relay.app import create_app
    from relay.server import uvicorn_config

    settings = load_settings(args.config)
    setup_logging("DEBUG" if args.debug else "INFO", secret_values(settings))
    host = args.host or settings.server.host
    port = int(args.port if args.port is not None else settings.server.port)
    settings = _preflight(settings, host, port)
    workers = int(args.workers)
    if workers > 1:
        return _serve_processes(args, settings, host, port, workers)
    app = create_app(settings, run_worker=not args.no_worker, announce=_say, on_started=freeze_heap)
    _announce_serving(args, settings, host, port)
    server = uvicorn.Server(uvicorn_config(app, settings.server, host=host, port=port))
    server.run()
    if not server.started:
        raise RelayError(f"could not serve on {host}:{port} (see the message above)")
    return 0


def _announce_serving(args: argparse.Namespace, settings: Settings, host: str, port: int) -> None:
    processes = f" with {args.workers} server processes" if int(args.workers) > 1 else ""
    _say(
        f"relay: serving {args.config} on http://{host}:{port}{processes} "
        f"(storage {_safe_url(settings.storage.url)})"
    )
    _say(f"relay: dashboard http://{host}:{port}/admin/")
    if settings.sandbox:
        _say(f"relay: sandbox on: demo shop http://{host}:{port}/sandbox/shop, fake platforms in /sandbox/")
    for warning in config_warnings(settings):
        _say(f"relay: warning: {warning}")


def _serve_processes(args: argparse.Namespace, settings: Settings, host: str, port: int, workers: int) -> int:
    """``--workers N``: storage migrated and secrets generated once, here; then N processes on one socket.
    The delivery worker and the audience scheduler run in the first process only (once per machine)."""
    from relay.app import announce_generated
    from relay.cli.supervisor import Supervisor, bind_socket
    from relay.http.auth import load_credentials

    db = _db(settings)
    try:
        announce_generated(load_credentials(db, settings.server).generated, _say)
    finally:
        db.close()
    sock = bind_socket(host, port)
    _announce_serving(args, settings, host, port)
    grace = settings.delivery.lease_seconds + 10
    process_args = (args.config, host, port, not args.no_worker, bool(args.debug), sock)
    try:
        return Supervisor(_serve_process, process_args, workers, grace).run()
    finally:
        sock.close()


def _serve_process(
    config: str, host: str, port: int, run_worker: bool, debug: bool, sock: socket.socket, index: int
) -> None:
    """One of the ``--workers`` processes (started by :class:`relay.cli.supervisor.Supervisor`)."""
    import uvicorn

    from relay.app import create_app
    from relay.server import uvicorn_config

    settings, _ = follow_listener(load_settings(config), host, port)
    setup_logging("DEBUG" if debug else "INFO", secret_values(settings))
    background = run_worker and index == 0
    app = create_app(settings, run_worker=background, announce=_say, on_started=freeze_heap)
    uvicorn.Server(uvicorn_config(app, settings.server, host=host, port=port)).run(sockets=[sock])


def _preflight(settings: Settings, host: str, port: int) -> Settings:
    """Before uvicorn starts: the sandbox follows the real address; storage and the port are tried, so a
    bad storage URL or a port in use is one line with its cause."""
    from relay.cli import checks

    settings, warnings = follow_listener(settings, host, port)
    warnings += [f"{key}: {problem}" for key, problem in checks.problems(settings)]
    for warning in [*warnings, *checks.warnings(settings)]:
        _say(f"relay: warning: {warning}")
    open_storage(settings.storage.url).close()
    check_port(host, port)
    return settings


def worker(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    setup_logging("DEBUG" if args.debug else "INFO", secret_values(settings))
    open_storage(settings.storage.url).close()  # an unreachable storage is one line with its cause
    asyncio.run(_worker(settings))
    return 0


async def _worker(settings: Settings) -> None:
    from relay.app import start, start_background, stop

    relay = await start(settings, announce=_say)  # no ingest parts: this process serves no HTTP
    background = start_background(relay)  # the same worker, scheduler and housekeeping as `relay serve`
    freeze_heap()
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
    from relay.cli.operator import check as run

    return run(args, _say, config_warnings)


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
    return open_storage(settings.storage.url)


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
    from relay.cli.operator import deliveries as run

    return run(args, _say)


def keys(args: argparse.Namespace) -> int:
    from relay.cli.operator import keys_rotate

    return keys_rotate(args, _say)


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
    ended = result["sessions_deleted"]
    _say(
        f"purged: {deleted} events deleted, {stripped} stripped of IP and user agent, "
        f"{ended} expired dashboard sessions"
    )
    return 0


def send_test_event(args: argparse.Namespace) -> int:
    from relay.cli.testevent import send_test_event as run

    settings = load_settings(args.config)
    return asyncio.run(run(settings, args.connector, args.event, _say))


def audiences(args: argparse.Namespace) -> int:
    from relay.audiences.command import sync_command

    settings = load_settings(args.config)
    if args.action == "status":
        from relay.audiences.overview import status_command

        return status_command(settings, args.names, runs=args.runs, say=_say)
    return sync_command(settings, args.names, dry_run=args.dry_run, full=args.full, say=_say)
