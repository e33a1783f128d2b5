"""Custom Audience rows in Meta's multi-key schema, and Meta's answers read back (meta.md §9).

Members arrive with their contact details already normalised and hashed by the relay (the same
normalisation as for conversions, so a person matches the same way on both paths). Here every
member becomes one row in :data:`SCHEMA` order, one value per cell (the first one when the member
has several), ``""`` for an unknown cell. A cell that is not a usable hash is left empty, so nothing
unhashed is ever sent; a member with no usable cell at all is left out and counted as invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.hashes import first_hash
from relay.types import AudienceBatchResult, AudienceMember

#: the multi-key schema, always sent whole so that every row of an audience has the same shape
SCHEMA = (
    "EMAIL",
    "PHONE",
    "FN",
    "LN",
    "FI",
    "ZIP",
    "CT",
    "ST",
    "COUNTRY",
    "DOBY",
    "DOBM",
    "DOBD",
    "GEN",
    "EXTERN_ID",
    "MADID",
)
#: schema column → key of :attr:`AudienceMember.hashed`; MADID comes from ``AudienceMember.madid``
HASHED_COLUMNS = {
    "EMAIL": "em",
    "PHONE": "ph",
    "FN": "fn",
    "LN": "ln",
    "FI": "fi",
    "ZIP": "zp",
    "CT": "ct",
    "ST": "st",
    "COUNTRY": "country",
    "DOBY": "doby",
    "DOBM": "dobm",
    "DOBD": "dobd",
    "GEN": "ge",
    # hashed like the CAPI external_id, so one customer id matches the same way on both paths
    "EXTERN_ID": "external_id",
}
EMPTY_ROW_REASON = "no usable identifier after normalisation; not sent"
MAX_SAMPLES = 10


def normalise_madid(value: str | None) -> str:
    """Mobile advertiser ids are sent raw: trimmed, lowercased, hyphens kept (meta.md §9.3)."""
    cleaned = (value or "").strip().lower()
    return cleaned if cleaned and not any(c.isspace() for c in cleaned) else ""


#: the hashed key of every column but the last (MADID), in :data:`SCHEMA` order, computed once
_ROW_KEYS = tuple(HASHED_COLUMNS[column] for column in SCHEMA[:-1])


def member_row(member: AudienceMember) -> list[str] | None:
    """``member`` as one row of :data:`SCHEMA`, or None when no cell is usable."""
    get = member.hashed.get
    # a million members go through here per sync: one list, one lookup and one check per cell
    row = [first_hash(values) if (values := get(key)) else "" for key in _ROW_KEYS]
    row.append(normalise_madid(member.madid) if member.madid else "")
    return row if any(row) else None


@dataclass(frozen=True, slots=True)
class Rows:
    """The rows to send, the batch index of each, and the members left out."""

    rows: list[list[str]]
    indexes: list[int]
    dropped: list[int]


def build_rows(members: Sequence[AudienceMember]) -> Rows:
    rows: list[list[str]] = []
    indexes: list[int] = []
    dropped: list[int] = []
    for index, member in enumerate(members):
        try:
            row = member_row(member)
        except (TypeError, AttributeError):  # broken stored data: this member is left out, not the batch
            row = None
        if row is None:
            dropped.append(index)
        else:
            rows.append(row)
            indexes.append(index)
    return Rows(rows, indexes, dropped)


def payload(rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    return {"schema": list(SCHEMA), "data": [list(r) for r in rows]}


def request_body(rows: Sequence[list[str]], session: Mapping[str, Any] | None = None) -> bytes:
    """The JSON body of one ``/users`` or ``/usersreplace`` call, encoded once (orjson: the rows of a
    10,000-member batch are most of a sync's CPU time after hashing)."""
    body: dict[str, Any] = {"payload": {"schema": SCHEMA, "data": rows}}
    if session is not None:
        body["session"] = session
    return orjson.dumps(body)


def _count(value: Any) -> int:
    try:
        return int(value) if not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0


def read_result(body: Any, sent: int, mask: Callable[[str], str]) -> AudienceBatchResult:
    """Meta's ``num_received`` / ``num_invalid_entries`` / ``invalid_entry_samples``, samples masked
    (they may quote what was sent)."""
    body = body if isinstance(body, Mapping) else {}
    samples = body.get("invalid_entry_samples")
    masked = {}
    if isinstance(samples, Mapping):
        masked = {mask(str(k))[:100]: mask(str(v))[:200] for k, v in list(samples.items())[:MAX_SAMPLES]}
    received = _count(body["num_received"]) if "num_received" in body else sent
    return AudienceBatchResult(
        received=received,
        invalid=_count(body.get("num_invalid_entries")),
        invalid_samples=masked,
    )


def left_out(dropped: Sequence[int]) -> AudienceBatchResult:
    """The members left out locally, reported like invalid entries."""
    samples = {f"member {i}": EMPTY_ROW_REASON for i in dropped[:MAX_SAMPLES]}
    return AudienceBatchResult(
        received=0, invalid=len(dropped), invalid_samples=samples, failed_indexes=dropped
    )


def merge(results: Iterable[AudienceBatchResult]) -> AudienceBatchResult:
    """One result for several requests of the same batch."""
    received = invalid = 0
    samples: dict[str, str] = {}
    failed: list[int] = []
    for result in results:
        received += result.received
        invalid += result.invalid
        for key, value in result.invalid_samples.items():
            if len(samples) < MAX_SAMPLES:
                samples.setdefault(key, value)
        failed.extend(result.failed_indexes)
    return AudienceBatchResult(received, invalid, samples, sorted(failed))


__all__ = [
    "HASHED_COLUMNS",
    "SCHEMA",
    "Rows",
    "build_rows",
    "left_out",
    "member_row",
    "merge",
    "payload",
    "read_result",
    "request_body",
]
