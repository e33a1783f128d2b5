"""Audience sources: a CSV file, a SQL query, members pushed through the API, and (``rule.py``) the
relay's own events.

A source is read in a thread of its own as a generator of member chunks, so memory stays constant
whatever its size: rows are normalised and hashed as they stream (``relay.normalize.member_from_row``),
rows that yield no member are counted with their reason, never sent.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from relay import tabular
from relay.audiences.members import Encoded, decode, encode, is_suppressed
from relay.exceptions import RelayError
from relay.normalize import member_from_row
from relay.settings import AudienceSourceSettings
from relay.storage import audiences as store
from relay.storage.db import Database

log = logging.getLogger("relay.audiences")
T = TypeVar("T")

#: the columns a csv or sql source may have (CONTRACT §5), in any subset and order
COLUMNS = frozenset(
    {"email", "phone", "first_name", "last_name", "gender", "date_of_birth", "city", "state", "zip"}
    | {"country", "external_id", "madid"}
)
CHUNK = 5000
_MAX_REASONS = 50
#: a blocking call that runs ``fn(engine, *args)`` in the database thread (the single writer)
RunDb = Callable[..., Any]


class SourceError(RelayError):
    """The audience's source could not be read."""


@dataclass
class SourceStats:
    """What a sync read: rows, members, and why rows were left out."""

    read: int = 0
    members: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    excluded: int = 0
    unknown_columns: tuple[str, ...] = ()

    def reject(self, reason: str) -> None:
        if reason not in self.invalid and len(self.invalid) >= _MAX_REASONS:
            reason = "other reasons"
        self.invalid[reason] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "members": self.members,
            "invalid": sum(self.invalid.values()),
            "invalid_reasons": dict(self.invalid.most_common()),
            "suppressed": self.suppressed,
            "excluded": self.excluded,
            "unknown_columns": list(self.unknown_columns),
        }


@dataclass(frozen=True)
class SourceContext:
    """What a source needs besides its settings."""

    audience: str
    scope: str
    db: Database
    run_db: RunDb
    default_country: str | None
    suppressed: frozenset[str]
    now: float


def _known_columns(names: list[str], stats: SourceStats, audience: str) -> list[tuple[int, str]]:
    known = [(i, n) for i, n in enumerate(names) if n in COLUMNS]
    unknown = tuple(n for n in names if n not in COLUMNS)
    if unknown:
        stats.unknown_columns = unknown
        log.warning(
            "audience source: unknown columns ignored",
            extra={"audience": audience, "columns": ",".join(unknown)},
        )
    if not known:
        raise SourceError(f"the source has none of the columns {', '.join(sorted(COLUMNS))}")
    return known


def hash_rows(
    rows: Iterable[dict[str, Any]], ctx: SourceContext, stats: SourceStats, size: int = CHUNK
) -> Iterator[list[Encoded]]:
    """Normalise and hash rows into chunks of encoded members, counting what is left out."""
    out: list[Encoded] = []
    for row in rows:
        stats.read += 1
        member, reason = member_from_row(row, default_country=ctx.default_country)
        if member is None:
            stats.reject(reason or "no usable identifier")
            continue
        if ctx.suppressed and is_suppressed(member, ctx.suppressed):
            stats.suppressed += 1
            continue
        stats.members += 1
        out.append(encode(member))
        if len(out) >= size:
            yield out
            out = []
    if out:
        yield out


# -- csv ------------------------------------------------------------------------------------------


def csv_rows(path: str, stats: SourceStats, audience: str) -> Iterator[dict[str, str]]:
    """The rows of a CSV file with a header row, as ``{column: value}`` without empty cells."""
    with tabular.csv_file(path, SourceError, lambda: f" after {stats.read} rows") as handle:
        split = tabular.split_header(handle)
        if split is None:
            return
        header, records = split
        known = _known_columns([h.strip().lower() for h in header], stats, audience)
        for record in records:
            if record:
                yield {name: record[i] for i, name in known if i < len(record) and record[i]}


# -- sql ------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()[:10]
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def sql_rows(url: str, query: str, stats: SourceStats, audience: str) -> Iterator[dict[str, Any]]:
    """The rows a SQL query returns, streamed from the database in pages."""
    with tabular.sql_result(url, query, SourceError, "sql source", page=CHUNK) as result:
        known = _known_columns([str(k).lower() for k in result.keys()], stats, audience)
        for rows in result.partitions():
            for row in rows:
                yield {name: _cell(row[i]) for i, name in known if row[i] is not None and row[i] != ""}


# -- api ------------------------------------------------------------------------------------------


def api_members(ctx: SourceContext, stats: SourceStats, size: int = CHUNK) -> Iterator[list[Encoded]]:
    """The members pushed through the API, already hashed, in pages."""
    after = ""
    while True:
        page = store.api_page(ctx.db.engine, ctx.audience, after, size)
        if not page:
            return
        after = page[-1][0]
        out = []
        for key, member_text in page:
            stats.read += 1
            if ctx.suppressed and is_suppressed(decode(member_text), ctx.suppressed):
                stats.suppressed += 1
                continue
            stats.members += 1
            out.append(Encoded(key, member_text))
        if out:
            yield out


def member_chunks(
    source: AudienceSourceSettings, ctx: SourceContext, stats: SourceStats
) -> Iterator[list[Encoded]]:
    """The source's members in chunks (blocking: run it in a thread)."""
    if source.type == "csv":
        return hash_rows(csv_rows(source.path or "", stats, ctx.audience), ctx, stats)
    if source.type == "sql":
        return hash_rows(sql_rows(source.url or "", source.query or "", stats, ctx.audience), ctx, stats)
    if source.type == "api":
        return api_members(ctx, stats)
    from relay.audiences.rule import rule_members

    return rule_members(source, ctx, stats)


__all__ = [
    "COLUMNS",
    "SourceContext",
    "SourceError",
    "SourceStats",
    "api_members",
    "csv_rows",
    "hash_rows",
    "member_chunks",
    "sql_rows",
]
