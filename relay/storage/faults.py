"""Whose fault is a failed transaction: the database's (everybody in it waits and retries) or one
event's (that event is refused, the others are stored).

A group commit writes many clients' events in one transaction, so one value the database refuses
fails them all. :func:`isolate` finds the culprits by bisection: the whole group, then each half of a
failing part, down to single events; a poison event costs about ``2 * log2(group size)`` extra
transactions and never a retry of the whole group per event.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import exc as sa

T = TypeVar("T")
R = TypeVar("R")

#: the database (or the way to it) is in trouble: nobody's fault among the events
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,  # disconnects, "database is locked", timeouts, disk full, deadlocks
    sa.InterfaceError,
    sa.InternalError,
    sa.DisconnectionError,
    sa.TimeoutError,  # the connection pool
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    ConnectionError,
    TimeoutError,
)
#: the database refused a value of the transaction (or it could not be encoded for it)
_DATA: tuple[type[BaseException], ...] = (
    sa.DataError,
    sa.IntegrityError,
    sa.ProgrammingError,  # sqlite3's "Error binding parameter", psycopg's "cannot adapt": a value's type
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    ValueError,  # UnicodeEncodeError (lone surrogates), PostgreSQL's refusal of NUL bytes
    TypeError,  # orjson.JSONEncodeError (nesting, 64-bit integers, non-string keys)
    ArithmeticError,  # OverflowError: an integer SQLite cannot hold
    RecursionError,
)


#: PostgreSQL SQLSTATE classes of a database the relay cannot use as it is, whatever the values: the
#: connection, the transaction, authorisation, a missing database or schema, resources, an operator
#: stopping it, system errors
_UNAVAILABLE_CLASSES = frozenset({"08", "25", "28", "3D", "3F", "40", "53", "55", "57", "58", "XX"})
#: and the schema changed or the rights revoked behind the relay's back (psycopg calls these programming
#: errors): a table, column, object or function that is not there, insufficient privilege. The rest of
#: class 42 stays the value's fault (a datatype mismatch can come from a value)
_UNAVAILABLE_STATES = frozenset({"42P01", "42703", "42704", "42883", "42501"})
#: SQLSTATE classes of a value refused: data exceptions, integrity, and program limits (an index row or a
#: JSON value too large), which psycopg raises as operational errors
_VALUE_CLASSES = frozenset({"22", "23", "54"})


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server answered with (psycopg), if any."""
    orig = exc.orig if isinstance(exc, sa.DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) and len(state) == 5 else None


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unavailable rather than refusing one value."""
    state = _sqlstate(exc)
    if state is not None:
        if state[:2] in _VALUE_CLASSES:
            return False
        if state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_STATES:
            return True
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, sa.DBAPIError):
        # the bare DatabaseError: SQLite's "disk image is malformed", an unclassified driver error
        return exc.connection_invalidated or type(exc) is sa.DatabaseError
    if isinstance(exc, sa.StatementError) and exc.orig is not None:
        return unavailable(exc.orig)  # a Python error raised while executing, wrapped
    return type(exc) is sqlite3.DatabaseError


def data_error(exc: BaseException) -> bool:
    """True when ``exc`` is the database (or the encoder) refusing a value; False for an unknown error."""
    if unavailable(exc):
        return False
    state = _sqlstate(exc)
    if state is not None and state[:2] in _VALUE_CLASSES:
        return True
    if not isinstance(exc, sa.DBAPIError) and isinstance(exc, sa.StatementError) and exc.orig is not None:
        return data_error(exc.orig)
    return isinstance(exc, _DATA)


def dedup_race(exc: BaseException) -> bool:
    """True for the unique dedup key violated by a concurrent writer (another relay process)."""
    return isinstance(exc, sa.IntegrityError) and "dedup_key" in str(exc.orig)


def describe(exc: BaseException) -> str:
    """The error's class (and the driver's), never its message: messages carry the statement's values."""
    name = type(exc).__name__
    orig = getattr(exc, "orig", None)
    return f"{name} ({type(orig).__name__})" if orig is not None and orig is not exc else name


def isolate(items: Sequence[T], store: Callable[[Sequence[T]], list[R]]) -> Iterator[tuple[T, R | Exception]]:
    """``store`` the items in as few calls as the failures allow; yields each item in order with its
    result, or with the error it failed with alone. An unavailable database is raised at once."""
    stack = [list(items)] if items else []
    while stack:
        part = stack.pop()
        try:
            results = store(part)
        except Exception as exc:
            if unavailable(exc):
                raise
            if len(part) == 1:
                yield part[0], exc
                continue
            middle = len(part) // 2
            stack += [part[middle:], part[:middle]]  # the first half first: copies keep their order
            continue
        yield from zip(part, results, strict=True)
