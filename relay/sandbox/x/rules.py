"""What the X Ads API accepts: conversion bodies and Custom Audience operations, checked as X documents.

Each check returns X-shaped error objects (``{"code", "message", "parameter"}``); X lists every
error of a request and records nothing when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse

Error = dict[str, str]
MAX_CONVERSIONS = 500
MAX_OPERATIONS = 2_500
MAX_BODY_BYTES = 5_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_TAG = re.compile(r"(?:tw-(?P<pixel>[0-9a-z]+)-)?(?P<tag>[0-9a-z]+)")
_CURRENCY = re.compile(r"[A-Z]{3}")
CONVERSION_FIELDS = frozenset(
    {"conversion_time", "event_id", "identifiers", "number_items", "price_currency", "value", "conversion_id"}
    | {"description", "contents", "event_source_url"}
)
HASHED_IDENTIFIERS = frozenset({"hashed_email", "hashed_phone_number"})
USER_IDENTIFIERS = HASHED_IDENTIFIERS | {"twclid"}
IDENTIFIER_KEYS = USER_IDENTIFIERS | {"ip_address", "user_agent"}
CONTENT_FIELDS = frozenset(
    {"content_id", "content_group_id", "content_name", "content_price", "content_type", "num_items"}
)
AUDIENCE_KEYS = frozenset({"email", "phone_number", "handle", "twitter_id", "device_id", "partner_user_id"})


def x_error(status: int, code: str, message: str, parameter: str | None = None, **extra: Any) -> JSONResponse:
    """An X-shaped error answer with one error."""
    error = {"code": code, "message": message} | ({"parameter": parameter} if parameter else {})
    return JSONResponse({"errors": [error], "request": {"params": {}}, **extra}, status_code=status)


def invalid(message: str, parameter: str) -> Error:
    return {"code": "INVALID_PARAMETER", "message": message, "parameter": parameter}


# -- conversions -----------------------------------------------------------------------------------


def tag_problem(
    value: Any, pixel_id: str, known: set[str] | None, sets: set[str]
) -> tuple[int, Error] | None:
    """An ``event_id`` that is not a single event tag (400) or not the account's (404)."""
    match = _TAG.fullmatch(value) if isinstance(value, str) else None
    tag = match["tag"] if match else value
    if match is None or tag in sets:
        return 400, invalid(f"event_id ({tag}) is not a single event tag (SET)", "event_id")
    if (match["pixel"] and match["pixel"] != pixel_id) or (known is not None and tag not in known):
        message = f"event_id {tag} does not belong to provided account"
        return 404, {"code": "NOT_FOUND", "message": message, "parameter": "event_id"}
    return None


def identifier_problems(identifiers: Any) -> list[Error]:
    """Identifier objects of known keys, valid hashes, and at least one of twclid / email / phone."""
    none_given = invalid("At least one user identifier must be provided", "identifiers")
    if not isinstance(identifiers, list) or not identifiers:
        return [none_given]
    problems, keys = [], set()
    for item in identifiers:
        if not isinstance(item, dict) or not item or not set(item) <= IDENTIFIER_KEYS:
            problems.append(invalid(f"Unexpected identifier {item!r}", "identifiers"))
            continue
        keys |= set(item)
        problems += [
            invalid(f"{key} ({item[key]}) is not a valid SHA-256 hash", key)
            for key in sorted(HASHED_IDENTIFIERS & set(item))
            if not isinstance(item[key], str) or not _HEX64.fullmatch(item[key])
        ]
    return problems if keys & USER_IDENTIFIERS else [*problems, none_given]


def field_problems(conversion: dict[str, Any]) -> list[Error]:
    """Unknown fields, the time format and the types of the optional fields."""
    problems = [invalid(f"Unknown parameter {k}", k) for k in conversion if k not in CONVERSION_FIELDS]
    time_value = conversion.get("conversion_time")
    if not isinstance(time_value, str) or not _TIME.fullmatch(time_value):
        message = f'Expected Time in yyyy-MM-ddTHH:mm:ss.SSSZ, got "{time_value}" for conversion_time'
        problems.append(invalid(message, "conversion_time"))
    checks: dict[str, Callable[[Any], bool]] = {
        "number_items": _positive_int,
        "price_currency": lambda v: isinstance(v, str) and _CURRENCY.fullmatch(v) is not None,
        "value": lambda v: _is_number(v) or (isinstance(v, str) and _is_number(_float(v))),
        "conversion_id": lambda v: isinstance(v, str) and bool(v),
        "description": lambda v: isinstance(v, str),
        "event_source_url": lambda v: isinstance(v, str),
        "contents": _valid_contents,
    }
    for key, check in checks.items():
        if key in conversion and not check(conversion[key]):
            problems.append(invalid(f"Invalid value for {key}: {conversion[key]!r}", key))
    return problems


def conversion_problems(
    conversions: list[Any], pixel_id: str, known: set[str] | None, sets: set[str]
) -> tuple[int, list[Error]]:
    """Every error of a conversions body and its status: 404 only when all of them are 404s."""
    found: list[tuple[int, Error]] = []
    for conversion in conversions:
        if not isinstance(conversion, dict):
            found.append((400, invalid("A conversion must be an object", "conversions")))
            continue
        problems = field_problems(conversion) + identifier_problems(conversion.get("identifiers"))
        found += [(400, problem) for problem in problems]
        tag = tag_problem(conversion.get("event_id"), pixel_id, known, sets)
        found += [tag] if tag else []
    status = 404 if found and all(code == 404 for code, _ in found) else 400
    return status, [error for _, error in found]


def _valid_contents(contents: Any) -> bool:
    if not isinstance(contents, list):
        return False
    for item in contents:
        if not isinstance(item, dict) or not set(item) <= CONTENT_FIELDS:
            return False
        if "content_price" in item and not _is_number(item["content_price"]):
            return False
        if "num_items" in item and not _positive_int(item["num_items"]):
            return False
    return True


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# -- audiences -------------------------------------------------------------------------------------


def operation_problems(op: Any) -> list[Error]:
    """The errors of one ``Update`` / ``Delete`` operation (``[]`` when it is valid)."""
    if not isinstance(op, dict) or op.get("operation_type") not in ("Update", "Delete"):
        return [invalid("operation_type must be Update or Delete", "operation_type")]
    params = op.get("params")
    users = params.get("users") if isinstance(params, dict) else None
    if not isinstance(params, dict) or not isinstance(users, list) or not users:
        return [invalid("params.users must be a non-empty array", "users")]
    problems = [
        invalid(f"{name} is not an ISO-8601 UTC time", name)
        for name in ("effective_at", "expires_at")
        if name in params and not (isinstance(params[name], str) and _ISO.fullmatch(params[name]))
    ]
    if not problems and params.get("expires_at", "~") <= params.get("effective_at", ""):
        problems.append(invalid("expires_at must be later than effective_at", "expires_at"))
    for user in users:
        problems += user_problems(user)
    return problems


def user_problems(user: Any) -> list[Error]:
    """Known keys, each an array of SHA-256 hex digests (``partner_user_id`` raw)."""
    if not isinstance(user, dict) or not user or not set(user) <= AUDIENCE_KEYS:
        return [
            invalid(f"Unexpected user keys {sorted(user) if isinstance(user, dict) else user!r}", "users")
        ]
    problems = []
    for key, values in user.items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            problems.append(invalid(f"{key} must be a non-empty array of strings", key))
        elif key != "partner_user_id" and not all(_HEX64.fullmatch(v) for v in values):
            problems.append(invalid(f"{key} must be SHA-256 hashed (64 lowercase hex)", key))
    return problems


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CONVERSIONS",
    "MAX_OPERATIONS",
    "Error",
    "conversion_problems",
    "field_problems",
    "identifier_problems",
    "invalid",
    "operation_problems",
    "tag_problem",
    "user_problems",
    "x_error",
]
