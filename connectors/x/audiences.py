"""X Custom Audience operations: members as ``Update`` / ``Delete`` operations, chunked to X's limits,
and X's answers read back per member.

Each member becomes one operation holding one user, so X's ``operation_errors`` (indexed by
operation) point straight at a member. Keys sent (all SHA-256 lowercase hex, as the relay stores
them): ``email`` (``em``), ``phone_number`` (``ph_e164``, E.164 with ``+``), ``handle`` and
``twitter_id`` when a member carries them, and ``device_id`` = SHA-256 of the mobile ad id
(IDFA / AdID lower case with dashes, Android ID as is).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from relay.types import AudienceMember

from .conversions import valid_hashes

OperationType = Literal["Update", "Delete"]
MAX_OPERATIONS = 2_500
MAX_BODY_BYTES = 5_000_000
USER_KEYS = (("em", "email"), ("ph_e164", "phone_number"), ("handle", "handle"), ("twitter_id", "twitter_id"))
NO_KEY = "no identifier X audiences accept (email, E.164 phone, handle, twitter_id or device id)"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def device_id_hash(madid: str) -> str | None:
    """SHA-256 of a mobile ad id normalised as X asks (a 64-hex value is taken as already hashed)."""
    value = madid.strip()
    if not value:
        return None
    if valid_hashes([value]):
        return value.lower()
    if _UUID.fullmatch(value):
        value = value.lower()
    return hashlib.sha256(value.encode()).hexdigest()


def member_user(member: AudienceMember) -> dict[str, list[str]] | None:
    """The ``users`` element for one member, or ``None`` when it has no key X accepts."""
    get = member.hashed.get
    user = {
        key: found for source, key in USER_KEYS if (values := get(source)) and (found := valid_hashes(values))
    }
    device = device_id_hash(member.madid) if member.madid else None
    if device:
        user["device_id"] = [device]
    return user or None


def iso_time(timestamp: float) -> str:
    return f"{datetime.fromtimestamp(int(timestamp), UTC):%Y-%m-%dT%H:%M:%SZ}"


def operation(op_type: OperationType, user: Mapping[str, list[str]], **times: str) -> dict[str, Any]:
    """One operation object; ``times`` may hold ``effective_at`` / ``expires_at``."""
    return {"operation_type": op_type, "params": {**times, "users": [dict(user)]}}


@dataclass
class Chunk:
    """One request's worth of operations, the member index of each, and the body's size in bytes."""

    indexes: list[int] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    size: int = 2  # "[]"

    @property
    def body(self) -> bytes:
        return b"[" + b",".join(self.encoded) + b"]"

    def add(self, index: int, encoded: bytes) -> None:
        self.size += len(encoded) + (1 if self.encoded else 0)
        self.indexes.append(index)
        self.encoded.append(encoded)

    def without(self, positions: set[int]) -> Chunk:
        """This chunk minus the operations at ``positions``."""
        rest = Chunk()
        for position, (index, encoded) in enumerate(zip(self.indexes, self.encoded, strict=True)):
            if position not in positions:
                rest.add(index, encoded)
        return rest


def chunk_operations(
    operations: Iterable[tuple[int, dict[str, Any]]],
    *,
    max_operations: int = MAX_OPERATIONS,
    max_bytes: int = MAX_BODY_BYTES,
) -> Iterator[Chunk]:
    """``(member index, operation)`` pairs grouped into bodies within both of X's limits."""
    chunk = Chunk()
    for index, op in operations:
        encoded = orjson.dumps(op)
        full = len(chunk.indexes) >= max_operations or chunk.size + len(encoded) + 1 > max_bytes
        if chunk.indexes and full:
            yield chunk
            chunk = Chunk()
        chunk.add(index, encoded)
    if chunk.indexes:
        yield chunk


def _error_text(entry: Any) -> str:
    items = entry if isinstance(entry, list) else [entry]
    texts = []
    for item in items:
        if isinstance(item, Mapping):
            texts.append(f"{item.get('code', 'ERROR')}: {item.get('message', '')}".strip())
        elif item:
            texts.append(str(item))
    return "; ".join(texts) or "rejected by X"


def operation_errors(body: Any) -> dict[int, str]:
    """X's ``operation_errors`` as {operation position: message}.

    Read as a list aligned with the operations (empty entries for good ones), a list of objects
    carrying an ``index``, or an object keyed by position.
    """
    if not isinstance(body, Mapping):
        return {}
    data = body.get("data")
    raw = body.get("operation_errors") or (
        data.get("operation_errors") if isinstance(data, Mapping) else None
    )
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        indexed = all(isinstance(e, Mapping) and "index" in e for e in raw)
        pairs = [(e["index"], e) for e in raw] if indexed and raw else list(enumerate(raw))
    found: dict[int, str] = {}
    for position, entry in pairs:
        if entry and str(position).isdigit():
            found[int(position)] = _error_text(entry)
    return found


def counts(body: Any) -> tuple[int | None, int | None]:
    """``(success_count, total_count)`` of an answer."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return None, None
    success, total = data.get("success_count"), data.get("total_count")
    return (success if isinstance(success, int) else None, total if isinstance(total, int) else None)


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_OPERATIONS",
    "NO_KEY",
    "Chunk",
    "OperationType",
    "chunk_operations",
    "counts",
    "device_id_hash",
    "iso_time",
    "member_user",
    "operation",
    "operation_errors",
]
