"""Rows of a CSV file with a header row, or of a SQL query: what the audience, catalog and order sources
read. Their errors name a path, a position or the driver's message, never a cell's content.

Each reader is a context manager that turns the failures of reading into the caller's error type
(``fail``), so that a source reports them in its own words.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import CursorResult, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from relay.storage.db import normalise_url

if TYPE_CHECKING:
    from _csv import Reader

Fail = Callable[[str], Exception]


def delimiter(header_line: str) -> str:
    """A comma, unless the header row has none and has tabs (then a tab) or semicolons (a semicolon)."""
    if "," not in header_line and "\t" in header_line:
        return "\t"
    if "," not in header_line and ";" in header_line:
        return ";"
    return ","


def split_header(
    lines: Iterable[str], sniff: Callable[[str], str] = delimiter
) -> tuple[list[str], Reader] | None:
    """The header row and a reader of the records after it (None for an empty file).

    The reader's ``line_num`` counts the lines after the header."""
    rest = iter(lines)
    first = next(rest, "")
    if not first.strip():
        return None
    sep = sniff(first)
    return next(csv.reader([first], delimiter=sep)), csv.reader(rest, delimiter=sep)


@contextlib.contextmanager
def csv_file(path: str, fail: Fail, progress: Callable[[], str] = str) -> Iterator[TextIO]:
    """The file open as UTF-8 text (a byte-order mark skipped); ``progress()`` says where reading
    stopped in the error of an unreadable CSV."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # closed by the with below
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            yield handle
        except (csv.Error, UnicodeDecodeError) as exc:
            # the messages name a position or a byte value, never a cell's content
            raise fail(f"{path}: not readable as UTF-8 CSV{progress()}: {exc}") from None


@contextlib.contextmanager
def sql_result(
    url: str, query: str, fail: Fail, what: str, page: int | None = None
) -> Iterator[CursorResult[Any]]:
    """The result of ``query`` on the database at ``url`` (streamed in ``page`` rows when given); the
    errors start with ``what`` (``sql source``)."""
    try:
        engine = create_engine(normalise_url(url))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise fail(f"{what}: unusable url ({type(exc).__name__})") from None
    try:
        with engine.connect() as conn:
            options = conn.execution_options(yield_per=page) if page else conn
            yield options.execute(text(query))
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0][:200]
        raise fail(f"{what} failed: {type(exc).__name__}: {detail}") from None
    finally:
        engine.dispose()


__all__ = ["Fail", "csv_file", "delimiter", "split_header", "sql_result"]
