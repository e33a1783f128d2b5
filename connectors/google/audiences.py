"""Customer Match through the Data Manager API (``audienceMembers:ingest`` / ``audienceMembers:remove``).

Google closed Customer Match on the Google Ads API (OfflineUserDataJobService, UserDataService) to new
adopters from 2026-04-01 and points to the Data Manager API. Each member becomes one
``AudienceMember`` with ``userData.userIdentifiers``: ``emailAddress`` (the Google-normalised email
hash ``em_google``, else ``em``) and ``phoneNumber`` (E.164 hash ``ph_e164``), at most 10, hex encoded.
A request carries at most 10,000 members. A 400 answer names bad members in its ``BadRequest``
field violations (``audience_members[i]``): they fail, and the others are sent again once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from relay.types import AudienceMember

from .conversions import hashes

MAX_MEMBERS = 10_000
MAX_IDENTIFIERS = 10
NO_KEY = "no identifier Customer Match accepts (email or E.164 phone)"
_MEMBER_INDEX = re.compile(r"audience_?[mM]embers\[(\d+)\]")


def member_identifiers(member: AudienceMember) -> list[dict[str, str]]:
    emails = hashes(member.hashed.get("em_google", ())) or hashes(member.hashed.get("em", ()))
    found = [{"emailAddress": h} for h in emails]
    found += [{"phoneNumber": h} for h in hashes(member.hashed.get("ph_e164", ()))]
    return found[:MAX_IDENTIFIERS]


def request_body(
    destination: dict[str, Any],
    members: Sequence[dict[str, Any]],
    consent: dict[str, str] | None,
    *,
    add: bool,
) -> dict[str, Any]:
    """The body of one ingest (``add``) or remove call."""
    body: dict[str, Any] = {
        "destinations": [destination],
        "audienceMembers": list(members),
        "encoding": "HEX",
    }
    if add:
        if consent:
            body["consent"] = consent
        body["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
    return body


def violations(body: Any) -> dict[int, str]:
    """{member position: reason} from the ``BadRequest.fieldViolations`` of a 400 answer."""
    status = body.get("error") if isinstance(body, Mapping) else None
    details = status.get("details") if isinstance(status, Mapping) else None
    found: dict[int, str] = {}
    for detail in details if isinstance(details, list) else []:
        items = detail.get("fieldViolations") if isinstance(detail, Mapping) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            match = _MEMBER_INDEX.search(str(item.get("field", "")))
            if match:
                reason = item.get("reason") or item.get("description") or "INVALID"
                found[int(match[1])] = str(reason)
    return found


__all__ = ["MAX_MEMBERS", "NO_KEY", "member_identifiers", "request_body", "violations"]
