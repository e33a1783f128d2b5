"""Validation helpers shared by the fakes of the JSON platforms (TikTok, Snap, Pinterest, Reddit).

Each returns a problem (text) or None, so a fake can answer with its platform's own error shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request

from relay.settings import Settings

HEX64 = re.compile(r"[0-9a-f]{64}")
DAY = 86400.0
#: how far in the future an event time may be (clock skew)
FUTURE_SKEW = 300.0


def secret(value: Any) -> str | None:
    """The plain text of a ``SecretStr`` (or ``str``) setting, None when unset or empty."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text if isinstance(text, str) and text else None


def configured(
    settings: Settings, type_name: str, mount: str, *keys: str, within: bool = False
) -> list[dict[str, str | None]]:
    """The named values of the ``type_name`` connectors whose ``api_base`` points at ``mount`` (or,
    ``within``, at a path below it)."""
    found = []
    for block in settings.connectors.values():
        base = block.api_base.rstrip("/")
        if block.type == type_name and (f"{mount}/" in f"{base}/" if within else base.endswith(mount)):
            found.append({key: secret(getattr(block, key, None)) for key in keys})
    return found


async def json_body(request: Request) -> tuple[Any, str | None]:
    """The request's JSON body, or a problem."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None, "Content-Type must be application/json"
    try:
        return await request.json(), None
    except ValueError:
        return None, "the body is not valid JSON"


def hashed_problem(where: str, value: Any, *, as_list: bool | None = None) -> str | None:
    """A problem when ``value`` is not a SHA-256 hex digest (or a list of them; ``as_list`` forces
    one form)."""
    if isinstance(value, list):
        if as_list is False:
            return f"{where} must be a string"
        bad = [v for v in value if not (isinstance(v, str) and HEX64.fullmatch(v))]
        return f"{where} must hold SHA-256 hex digests (PII not hashed)" if bad or not value else None
    if as_list is True:
        return f"{where} must be a list of SHA-256 hex digests"
    if not (isinstance(value, str) and HEX64.fullmatch(value)):
        return f"{where} must be a SHA-256 hex digest (PII not hashed)"
    return None


def time_problem(where: str, seconds: Any, now: float, max_age_days: float) -> str | None:
    """A problem with an event time given in seconds (after any unit conversion by the caller)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return f"{where} must be a number"
    if seconds > now + FUTURE_SKEW:
        return f"{where} is in the future"
    if seconds < now - max_age_days * DAY:
        return f"{where} is older than {max_age_days:g} days"
    return None


def first(problems: Iterable[str | None]) -> str | None:
    """The first problem found (each of ``problems`` is None where its check passed)."""
    return next((problem for problem in problems if problem), None)


def unknown_keys(where: str, data: Mapping[str, Any], known: Iterable[str]) -> str | None:
    extra = sorted(set(data) - set(known))
    return f"{where}: unknown field {extra[0]}" if extra else None


def fields_problem(
    where: str,
    data: Mapping[str, Any],
    hashed: Iterable[str],
    raw: Iterable[str],
    *,
    as_list: bool | None = None,
) -> str | None:
    """A problem with an object of contact fields: a key neither ``hashed`` nor ``raw``, or a ``hashed``
    one that is not a SHA-256 digest (``as_list`` as :func:`hashed_problem` takes it)."""
    problem = unknown_keys(where, data, (*hashed, *raw))
    for key in hashed:
        if problem is None and key in data:
            problem = hashed_problem(f"{where}.{key}", data[key], as_list=as_list)
    return problem


def url_problem(where: str, value: Any) -> str | None:
    """A problem when ``value`` (if present) is not an absolute http(s) URL."""
    if value is None or (isinstance(value, str) and re.match(r"https?://[^/\s]+", value)):
        return None
    return f"{where} must be an absolute http(s) URL"


def text_problem(where: str, value: Any) -> str | None:
    return None if isinstance(value, str) and value else f"{where} must be a non-empty string"


__all__ = [
    "DAY",
    "FUTURE_SKEW",
    "HEX64",
    "configured",
    "fields_problem",
    "first",
    "hashed_problem",
    "json_body",
    "secret",
    "text_problem",
    "time_problem",
    "unknown_keys",
    "url_problem",
]
