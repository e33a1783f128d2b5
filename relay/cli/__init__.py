"""The ``relay`` command (CONTRACT §2). Every flag falls back to ``RELAY_<FLAG>`` in the environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from relay.cli.cause import describe
from relay.exceptions import ConfigError, RelayError, StorageError

DEFAULT_CONFIG = "relay.yaml"


def _env(flag: str, default: Any = None) -> Any:
    return os.environ.get("RELAY_" + flag.upper().replace("-", "_"), default)


def _env_bool(flag: str) -> bool:
    return str(_env(flag, "")).lower() in ("1", "true", "yes", "on")


def _positive(text: str) -> int:
    if not str(text).isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=_env("config", DEFAULT_CONFIG), help="config file (RELAY_CONFIG)")


def _add_names(p: argparse.ArgumentParser, names: str) -> None:
    """``--config`` and the configured names a command acts on (``names``: their help)."""
    _add_config(p)
    p.add_argument("names", nargs="*", help=names)


def _add_sync(p: argparse.ArgumentParser, names: str, *, dry_run: str, full: str) -> None:
    """The arguments of a sync command (``audiences sync``, ``catalog sync``)."""
    _add_names(p, names)
    p.add_argument("--dry-run", action="store_true", default=_env_bool("dry_run"), help=dry_run)
    p.add_argument("--full", action="store_true", default=_env_bool("full"), help=full)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="relay",
        description="conversion-relay: first-party conversion relay",
        epilog="Every flag falls back to RELAY_<FLAG> in the environment. "
        "Exit codes: 0 success, 1 runtime failure, 2 usage or config error.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    top.add_argument(
        "--debug", action="store_true", default=_env_bool("debug"), help="show tracebacks (RELAY_DEBUG)"
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("serve", help="HTTP server, delivery worker and audience scheduler")
    _add_config(p)
    p.add_argument("--host", default=_env("host"), help="address to listen on (RELAY_HOST; server.host)")
    p.add_argument(
        "--port", type=int, default=_env("port"), help="port to listen on (RELAY_PORT; server.port)"
    )
    p.add_argument(
        "--no-worker",
        action="store_true",
        default=_env_bool("no_worker"),
        help="serve HTTP only; run `relay worker` processes to deliver (RELAY_NO_WORKER)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=_env("workers", "1"),  # argparse applies the type to a text default
        help="server processes on one socket (RELAY_WORKERS; default 1)",
    )

    p = sub.add_parser("worker", help="delivery worker and audience scheduler only")
    _add_config(p)

    p = sub.add_parser("check", help="validate the config and every connector block")
    _add_config(p)
    p.add_argument(
        "--connect",
        action="store_true",
        default=_env_bool("connect"),
        help="also reach the storage (and its migrations) and verify each connector's credentials with "
        "a harmless platform call (RELAY_CONNECT)",
    )

    p = sub.add_parser("connectors", help="list connector types and configured connectors")
    _add_config(p)
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    r = csub.add_parser("resume", help="resume a connector paused after an auth error")
    r.add_argument("name", help="the connector's name in the config")
    _add_config(r)

    p = sub.add_parser("send-test-event", help="deliver one realistic event through a connector now")
    _add_config(p)
    p.add_argument(
        "--connector",
        required=_env("connector") is None,
        default=_env("connector"),
        help="the connector's name in the config (RELAY_CONNECTOR)",
    )
    p.add_argument("--event", default=_env("event", "Purchase"), help="event name (RELAY_EVENT; Purchase)")

    p = sub.add_parser("deliveries", help="list deliveries")
    _add_config(p)
    p.add_argument(
        "--status",
        choices=["pending", "in_flight", "delivered", "dead", "skipped"],
        default=_env("status"),
        help="only deliveries in this status (RELAY_STATUS)",
    )
    p.add_argument("--connector", default=_env("connector"), help="only this connector (RELAY_CONNECTOR)")
    p.add_argument("--event-id", default=_env("event_id"), help="only this event (RELAY_EVENT_ID)")
    p.add_argument(
        "--limit", type=int, default=int(_env("limit", 50)), help="newest N deliveries (RELAY_LIMIT; 50)"
    )

    p = sub.add_parser("replay", help="requeue deliveries (default: dead ones)")
    _add_config(p)
    p.add_argument("--connector", default=_env("connector"), help="only this connector (RELAY_CONNECTOR)")
    p.add_argument(
        "--status",
        default=_env("status", "dead"),
        choices=["dead", "delivered", "skipped", "pending"],
        help="deliveries in this status (RELAY_STATUS; dead)",
    )
    p.add_argument("--since", default=_env("since"), help="received at or after this ISO time (RELAY_SINCE)")
    p.add_argument("--until", default=_env("until"), help="received before this ISO time (RELAY_UNTIL)")
    p.add_argument("--event-id", default=_env("event_id"), help="only this event (RELAY_EVENT_ID)")

    p = sub.add_parser("audiences", help="custom audiences")
    _add_config(p)
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_sync(
        asub.add_parser("sync", help="sync audiences now"),
        "audiences to sync (default: all)",
        dry_run="print the diff counts per destination without sending (RELAY_DRY_RUN)",
        full="replace each audience whole instead of sending the difference (RELAY_FULL)",
    )
    s = asub.add_parser("status", help="show each audience's size, last and next run, and its last runs")
    _add_names(s, "audiences to show (default: all)")
    s.add_argument(
        "--runs", type=_positive, default=_env("runs", "5"), help="how many last runs to list (RELAY_RUNS; 5)"
    )

    p = sub.add_parser(
        "reconcile",
        help="compare orders with the conversions received and delivered",
        description="Orders: CSV or SQL columns order_id, time (ISO-8601 or Unix seconds), value, currency; "
        "for --send-missing also email, phone, country and consent_tcf, consent_gpp, consent_usp, "
        "consent_gcs. "
        "Exit codes: 0 every order matched, 1 differences found, 2 error.",
    )
    _add_config(p)
    p.add_argument(
        "--orders", default=_env("orders"), help="orders CSV file instead of reconcile.source (RELAY_ORDERS)"
    )
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default=_env("format", "text"),
        help="report format (RELAY_FORMAT)",
    )
    p.add_argument("--since", default=_env("since"), help="orders at or after this ISO time (RELAY_SINCE)")
    p.add_argument("--match", default=_env("match"), help="event_id or custom.<key> (RELAY_MATCH)")
    p.add_argument(
        "--send-missing",
        action="store_true",
        default=_env_bool("send_missing"),
        help="send never-tracked orders server-side where their consent allows (RELAY_SEND_MISSING)",
    )

    p = sub.add_parser("catalog", help="product catalogs (dynamic ads)")
    csub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = csub.add_parser("sync", help="send the changed products to the platform catalogs now")
    _add_sync(
        s, "catalogs to sync (default: all)", dry_run="count, send nothing", full="send every product again"
    )

    p = sub.add_parser("lookalikes", help="create the missing lookalike audiences now")
    _add_names(p, "audiences (default: every one with a lookalike)")

    p = sub.add_parser("db", help="database")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    u = dsub.add_parser("upgrade", help="apply schema migrations")
    _add_config(u)

    p = sub.add_parser("purge", help="apply the retention policy now")
    _add_config(p)

    p = sub.add_parser("keys", help="API key and admin token")
    ksub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = ksub.add_parser("rotate", help="replace a generated secret: the new one is printed once")
    _add_config(k)
    which = k.add_mutually_exclusive_group(required=True)
    which.add_argument("--api-key", action="store_true", help="rotate the API key of /v1/events")
    which.add_argument("--admin-token", action="store_true", help="rotate the admin token of /admin/")
    return top


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("conversion-relay")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help()
        return 0
    from relay.catalog.command import catalog_main, lookalikes_main
    from relay.cli import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": commands.serve,
        "worker": commands.worker,
        "check": commands.check,
        "connectors": commands.connectors,
        "send-test-event": commands.send_test_event,
        "deliveries": commands.deliveries,
        "replay": commands.replay,
        "audiences": commands.audiences,
        "catalog": catalog_main,
        "lookalikes": lookalikes_main,
        "db": commands.db_upgrade,
        "purge": commands.purge,
        "keys": commands.keys,
        "reconcile": _reconcile,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        _fail(args, exc)
        return 2
    except RelayError as exc:
        _fail(args, exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(f"relay: error: {describe(exc)} (run with --debug for details)", file=sys.stderr)
        return 1


def _reconcile(args: argparse.Namespace) -> int:
    from relay.reconcile.command import main as reconcile_main

    return reconcile_main(args)


def _fail(args: argparse.Namespace, exc: RelayError) -> None:
    if args.debug:
        traceback.print_exc()
    message = str(exc)
    if isinstance(exc, StorageError) and exc.__cause__ is not None:
        # "migrations failed: OperationalError" says nothing: the driver's own first line does
        message = f"storage unavailable: {describe(exc.__cause__)}"
    print(f"relay: error: {message}", file=sys.stderr)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
