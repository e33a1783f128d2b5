"""What Meta's Graph API accepts: the version, conversion events and Custom Audience payloads (meta.md).

Each check answers why Meta would refuse a value (or raises :class:`GraphFault`, the Graph error envelope);
:mod:`relay.sandbox.meta` applies them to the requests it fakes. No raw value is quoted in a problem.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.responses import JSONResponse

ACTION_SOURCES = frozenset(
    {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated"}
    | {"business_messaging", "other"}
)
HASHED_USER_KEYS = frozenset(
    {"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "fi", "doby", "dobm", "dobd"}
    | {"f5first", "f5last"}
)
AUDIENCE_KEYS = frozenset(
    {"EMAIL", "PHONE", "FN", "LN", "FI", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN"}
    | {"EXTERN_ID", "MADID", "APPUID"}
)
RAW_AUDIENCE_KEYS = frozenset({"EXTERN_ID", "MADID", "APPUID"})
MAX_EVENTS = 1000
MAX_ROWS = 10000
DAY = 86400
_HASH = re.compile(r"[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{2,16})?")
_VERSION = re.compile(r"v(\d+)\.\d+")


class GraphFault(Exception):
    """An error the fake answers in the Graph envelope."""

    def __init__(self, message: str, code: int = 100, subcode: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.subcode, self.status = code, subcode, status

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"message": str(self), "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = trace_id()
        return JSONResponse({"error": error}, status_code=self.status)


def trace_id() -> str:
    """A fresh ``fbtrace_id``, as every Graph answer carries."""
    return secrets.token_urlsafe(9)


def check_version(version: str) -> None:
    """Raise the fault Meta answers for a malformed or retired API ``version`` in the path."""
    match = _VERSION.fullmatch(version)
    if not match:
        raise GraphFault(f"Unknown path components: /{version}", code=2500)
    if int(match.group(1)) <= 24:
        raise GraphFault(
            "(#2635) You are calling a deprecated version of the Ads API. "
            "Please update to the latest version: v26.0.",
            code=2635,
        )


def _is_hash_list(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and _HASH.fullmatch(v) for v in values)


def event_problem(event: Any, now: float) -> str | None:
    """Why Meta would refuse ``event``, or None."""
    if not isinstance(event, dict):
        return "is not an object"
    if not isinstance(event.get("event_name"), str) or not event["event_name"]:
        return "event_name is required"
    source = event.get("action_source")
    if source not in ACTION_SOURCES:
        return f"action_source must be one of {', '.join(sorted(ACTION_SOURCES))}"
    problem = _time_problem(event.get("event_time"), source, now)
    if problem:
        return problem
    user = event.get("user_data")
    if not isinstance(user, dict) or not user:
        return "user_data must contain at least one customer information parameter"
    if source == "website" and not event.get("event_source_url"):
        return "event_source_url is required for website events"
    if source == "website" and not user.get("client_user_agent"):
        return "user_data.client_user_agent is required for website events"
    for key in sorted(HASHED_USER_KEYS & user.keys()):
        if not _is_hash_list(user[key]):
            return (
                f"user_data.{key} must be SHA-256 hashed (64 lowercase hex characters); unhashed data refused"
            )
    if "custom_data" in event and not isinstance(event["custom_data"], dict):
        return "custom_data must be an object"
    return _ldu_problem(event)


def _time_problem(event_time: Any, action_source: str, now: float) -> str | None:
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        return "event_time must be a Unix timestamp in seconds (integer)"
    days = 62 if action_source == "physical_store" else 7
    if now - event_time > days * DAY:
        return f"event_time is more than {days} days in the past"
    if event_time - now > 60:
        return "event_time is in the future"
    return None


def _ldu_problem(event: dict[str, Any]) -> str | None:
    options = event.get("data_processing_options", [])
    if not isinstance(options, list) or any(o != "LDU" for o in options):
        return 'data_processing_options must be [] or ["LDU"]'
    country = event.get("data_processing_options_country")
    state = event.get("data_processing_options_state")
    if "LDU" not in options:
        if country is not None or state is not None:
            return "data_processing_options_country/state are set without LDU"
        return None
    if country not in (0, 1):
        return "data_processing_options_country must be 1 (USA) or 0 (geolocate) with LDU"
    if state not in (0, 1000):
        return "data_processing_options_state must be 1000 (California) or 0 (geolocate) with LDU"
    return None


def audience_payload(payload: Any) -> tuple[list[str], list[list[Any]]]:
    """The schema and rows of a Custom Audience ``payload``; a lone key becomes a one-column schema."""
    if not isinstance(payload, dict):
        raise GraphFault("(#100) The parameter payload is required")
    schema, data = payload.get("schema"), payload.get("data")
    if isinstance(schema, str):
        schema, data = [schema], [[v] for v in data] if isinstance(data, list) else data
    if not isinstance(schema, list) or not schema or any(k not in AUDIENCE_KEYS for k in schema):
        raise GraphFault(f"Invalid parameter: payload.schema must list keys among {sorted(AUDIENCE_KEYS)}")
    if not isinstance(data, list) or not data:
        raise GraphFault("Invalid parameter: payload.data must be a non-empty array")
    if len(data) > MAX_ROWS:
        raise GraphFault(f"Invalid parameter: at most {MAX_ROWS} users per request")
    return schema, data


def row_problem(schema: list[str], row: Any) -> str | None:
    """Why Meta would count ``row`` as an invalid entry, or None (no raw value is quoted)."""
    if not isinstance(row, list) or len(row) != len(schema) or not all(isinstance(v, str) for v in row):
        return "row does not match the schema"
    if not any(row):
        return "row has no value"
    for key, value in zip(schema, row, strict=True):
        if value and key not in RAW_AUDIENCE_KEYS and not _HASH.fullmatch(value):
            return f"{key} is not a SHA-256 hash"
    return None


__all__ = [
    "ACTION_SOURCES",
    "AUDIENCE_KEYS",
    "DAY",
    "HASHED_USER_KEYS",
    "MAX_EVENTS",
    "MAX_ROWS",
    "RAW_AUDIENCE_KEYS",
    "GraphFault",
    "audience_payload",
    "check_version",
    "event_problem",
    "row_problem",
    "trace_id",
]
