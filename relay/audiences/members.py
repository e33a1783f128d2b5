"""A member's canonical text and its key: the unit the diff engine stores, compares and sends.

The canonical text is compact JSON of the member's hashed identifiers (keys sorted, values in their
order, at most :data:`MAX_VALUES` each) plus ``madid``; the member key is the first 128 bits of its
SHA-256. Two source rows that hash to the same identifiers are one member; a member whose details
change gets a new key (the diff removes the old one and adds the new one, which is what Meta needs:
a row is removed by sending the row that was added).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from relay.normalize import digest_of
from relay.types import HASHED_KEYS, AudienceMember

#: hashed keys an audience keeps: every key an audience connector sends (not the full date of birth, nor
#: Reddit's email form: no audience connector sends it, and members' keys stay as they were)
MEMBER_KEYS = tuple(k for k in HASHED_KEYS if k not in ("db", "em_reddit"))
#: keys that identify a person on their own (matched by updates, removals and erasure)
STRONG_KEYS = ("em", "ph", "ph_e164", "external_id")
MAX_VALUES = 10


@dataclass(frozen=True, slots=True)
class Encoded:
    """A member ready to store: its key and canonical text."""

    key: str
    text: str


def canonical(hashed: Mapping[str, Sequence[str]], madid: str | None) -> dict[str, object]:
    """The member's identifiers as stored: known keys, non-empty lists, bounded."""
    out: dict[str, object] = {}
    for key in MEMBER_KEYS:
        values = hashed.get(key)
        if values:
            out[key] = list(values[:MAX_VALUES])
    if madid:
        out["madid"] = madid
    return out


_MEMBER_KEY_SET = frozenset(MEMBER_KEYS)


def encode(member: AudienceMember) -> Encoded:
    """The key and canonical text of ``member``: :func:`canonical`, keys sorted, built straight from the
    member's keys (a million members per sync; the sort makes the order they come in irrelevant)."""
    out: dict[str, object] = {
        key: values[:MAX_VALUES] for key, values in member.hashed.items() if values and key in _MEMBER_KEY_SET
    }
    if member.madid:
        out["madid"] = member.madid
    data = orjson.dumps(out, option=orjson.OPT_SORT_KEYS)
    return Encoded(hashlib.sha256(data).hexdigest()[:32], data.decode())


def decode(text: str) -> AudienceMember:
    """The member a canonical text describes. Its values are tuples: a sync decodes a page of thousands
    of members at once, and the cyclic GC stops looking at tuples of strings after one pass, where it
    would walk every list of every member again at each collection (~30 % of Meta's row building)."""
    data = orjson.loads(text)
    madid = data.pop("madid", None)
    return AudienceMember(hashed={key: tuple(values) for key, values in data.items()}, madid=madid)


def idents(member: AudienceMember) -> set[str]:
    """The identifiers that name this person alone: hashed email, phone (both forms), external id, and the
    device id as ``madid:<id>``."""
    found = {digest_of(v) for key in STRONG_KEYS for v in member.hashed.get(key, ())}
    if member.madid:
        found.add(f"madid:{member.madid}")
    return found


def text_idents(text: str) -> set[str]:
    """:func:`idents` of a canonical text."""
    return idents(decode(text))


def is_suppressed(member: AudienceMember, suppressed: Iterable[str] | set[str]) -> bool:
    """Whether any identifier of ``member`` belongs to a person who asked to be deleted."""
    if not suppressed:
        return False
    pool = suppressed if isinstance(suppressed, set | frozenset) else set(suppressed)
    return not pool.isdisjoint(idents(member))


__all__ = [
    "MAX_VALUES",
    "MEMBER_KEYS",
    "STRONG_KEYS",
    "Encoded",
    "canonical",
    "decode",
    "encode",
    "idents",
    "is_suppressed",
    "text_idents",
]
