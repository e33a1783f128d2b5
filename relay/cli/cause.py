"""The real cause of a failure, in one line: what ``relay`` prints instead of a traceback.

A storage failure arrives wrapped (``StorageError`` ← SQLAlchemy ``OperationalError`` ← the driver's
error); the line an operator needs is the driver's first line ("connection refused", "role ... does not
exist", "database ... does not exist"), or the operating system's reason for an ``OSError``.
"""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def root_causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe(exc: BaseException) -> str:
    """One line saying why ``exc`` happened, from the innermost exception that says something."""
    for cause in reversed(root_causes(exc)):
        text = _text(cause)
        if text:
            return text
    return type(exc).__name__


def _text(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return _first_line(str(exc.orig))
    if isinstance(exc, SQLAlchemyError):
        return _first_line(str(exc).split("\n(Background on this error")[0])
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = exc.strerror or errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{reason} ({exc.filename})" if exc.filename else reason
    return _first_line(str(exc))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # psycopg says 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection
    # refused' over several lines; the last of them usually carries the reason
    if not lines:
        return ""
    return lines[0] if len(lines) == 1 else " ".join(lines[:3])[:300]
