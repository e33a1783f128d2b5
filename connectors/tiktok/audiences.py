"""TikTok custom audiences (customer file segments): members as ``segment/mapping`` rows.

``POST /open_api/v1.3/segment/mapping/`` with ``{advertiser_ids, action: add|delete, id_schema,
batch_data}``: each row of ``batch_data`` holds one entry per ``id_schema`` column, ``{id, audience_ids}``
when the member has that identifier, ``{}`` when not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from relay.normalize import sha256_hex
from relay.types import AudienceMember

ID_SCHEMA = ("EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256")
#: members per request: TikTok documents no maximum for this call [unverified]; kept modest
MAX_MEMBERS = 10_000
NO_KEY = "no email, phone or mobile advertising id TikTok can match"
Action = Literal["add", "delete"]


def _first(values: Sequence[str]) -> str | None:
    for value in values:
        digest = value[:64].lower()
        if len(digest) == 64:
            return digest
    return None


def member_ids(member: AudienceMember) -> list[str | None]:
    """The member's hashes in :data:`ID_SCHEMA` order (email, E.164 phone, mobile ad id)."""
    madid = sha256_hex(member.madid.strip().lower()) if member.madid else None
    return [_first(member.hashed.get("em", ())), _first(member.hashed.get("ph_e164", ())), madid]


def row(ids: Sequence[str | None], audience_id: str) -> list[dict[str, Any]]:
    """One ``batch_data`` row."""
    return [{"id": value, "audience_ids": [audience_id]} if value else {} for value in ids]


def body(advertiser_id: str, action: Action, rows: Sequence[list[dict[str, Any]]]) -> dict[str, Any]:
    """The JSON body of one ``segment/mapping`` call."""
    return {
        "advertiser_ids": [advertiser_id],
        "action": action,
        "id_schema": list(ID_SCHEMA),
        "batch_data": list(rows),
    }


__all__ = ["ID_SCHEMA", "MAX_MEMBERS", "NO_KEY", "Action", "body", "member_ids", "row"]
