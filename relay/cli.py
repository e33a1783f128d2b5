"""The ``relay`` command (CONTRACT §2). Every flag falls back to ``RELAY_<FLAG>`` in the environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from relay.exceptions import ConfigError, RelayError

DEFAULT_CONFIG = "relay.yaml"


def _env(flag: str, default: Any = None) -> Any:
    return os.environ.get("RELAY_" + flag.upper().replace("-", "_"), default)


def _env_bool(flag: str) -> bool:
    return str(_env(flag, "")).lower() in ("1", "true", "yes", "on")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=_env("config", DEFAULT_CONFIG), help="config file (RELAY_CONFIG)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="relay", description="conversion-relay: first-party conversion relay")
    top.add_argument("--debug", action="store_true", default=_env_bool("debug"), help="show tracebacks")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="HTTP server, delivery worker and audience scheduler")
    _add_config(p)
    p.add_argument("--host", default=_env("host"))
    p.add_argument("--port", type=int, default=_env("port"))
    p.add_argument("--no-worker", action="store_true", default=_env_bool("no_worker"))

    p = sub.add_parser("worker", help="delivery worker and audience scheduler only")
    _add_config(p)

    p = sub.add_parser("check", help="validate the config and every connector block")
    _add_config(p)

    p = sub.add_parser("connectors", help="list connector types and configured connectors")
    _add_config(p)
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    r = csub.add_parser("resume", help="resume a connector paused after an auth error")
    r.add_argument("name")
    _add_config(r)

    p = sub.add_parser("send-test-event", help="deliver one realistic event through a connector now")
    _add_config(p)
    p.add_argument("--connector", required=_env("connector") is None, default=_env("connector"))
    p.add_argument("--event", default=_env("event", "Purchase"))

    p = sub.add_parser("deliveries", help="list deliveries")
    _add_config(p)
    p.add_argument(
        "--status", choices=["pending", "in_flight", "delivered", "dead", "skipped"], default=_env("status")
    )
    p.add_argument("--connector", default=_env("connector"))
    p.add_argument("--limit", type=int, default=int(_env("limit", 50)))

    p = sub.add_parser("replay", help="requeue deliveries (default: dead ones)")
    _add_config(p)
    p.add_argument("--connector", default=_env("connector"))
    p.add_argument(
        "--status", default=_env("status", "dead"), choices=["dead", "delivered", "skipped", "pending"]
    )
    p.add_argument("--since", default=_env("since"))
    p.add_argument("--until", default=_env("until"))
    p.add_argument("--event-id", default=_env("event_id"))

    p = sub.add_parser("audiences", help="custom audiences")
    _add_config(p)
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = asub.add_parser("sync", help="sync audiences now")
    _add_config(s)
    s.add_argument("names", nargs="*")
    s.add_argument("--dry-run", action="store_true", default=_env_bool("dry_run"))
    s.add_argument("--full", action="store_true", default=_env_bool("full"))

    p = sub.add_parser("db", help="database")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    u = dsub.add_parser("upgrade", help="apply schema migrations")
    _add_config(u)

    p = sub.add_parser("purge", help="apply the retention policy now")
    _add_config(p)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from relay import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": commands.serve,
        "worker": commands.worker,
        "check": commands.check,
        "connectors": commands.connectors,
        "send-test-event": commands.send_test_event,
        "deliveries": commands.deliveries,
        "replay": commands.replay,
        "audiences": commands.audiences,
        "db": commands.db_upgrade,
        "purge": commands.purge,
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
            print(
                f"relay: error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
            )
        return 1


def _fail(args: argparse.Namespace, exc: RelayError) -> None:
    if args.debug:
        traceback.print_exc()
    print(f"relay: error: {exc}", file=sys.stderr)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
