"""What a command checks before it starts work, so a failure is one line with its cause.

``relay serve`` opens storage and binds its port before uvicorn starts: a bad storage URL or a port in
use then ends the command with one line (exit 2 for a config mistake, 1 for a runtime failure) instead
of a startup traceback.
"""

from __future__ import annotations

import socket

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from relay.cli.cause import describe
from relay.exceptions import ConfigError, RelayError, StorageError
from relay.storage.db import Database


def safe_url(url: str) -> str:
    """A storage URL fit to print: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def open_storage(url: str, *, migrate: bool = True) -> Database:
    """The database at ``url``, migrated; errors name their cause in one line."""
    try:
        db = Database(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"not a usable storage URL: {describe(exc)}", key="storage.url") from None
    if migrate:
        try:
            db.migrate()
        except (StorageError, SQLAlchemyError, OSError) as exc:
            db.close()
            raise StorageError(f"storage {safe_url(url)}: {describe(exc)}") from None
    return db


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, when ``host:port`` cannot be bound (in use, not an address of this host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (socket.gaierror, OverflowError) as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}", key="server.host") from None
        except OSError as exc:
            raise RelayError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
