"""The canonical event (CONTRACT §4.1) and its validation, one event at a time so a bad event in a
batch never rejects the others."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

StrOrList = str | list[str] | None

ActionSource = Literal[
    "website", "app", "email", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
]  # fmt: skip
ACTION_SOURCES: tuple[str, ...] = get_args(ActionSource)
MAX_FUTURE_SECONDS = 300
MAX_AGE_DAYS = {"physical_store": 62}
DEFAULT_MAX_AGE_DAYS = 7


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class UserIn(_Strict):
    email: StrOrList = None
    phone: StrOrList = None
    first_name: StrOrList = None
    last_name: StrOrList = None
    gender: StrOrList = None
    date_of_birth: StrOrList = None
    city: StrOrList = None
    state: StrOrList = None
    zip: StrOrList = None
    country: StrOrList = None
    external_id: StrOrList = None
    ip: str | None = Field(None, max_length=64)
    user_agent: str | None = Field(None, max_length=2048)
    fbp: str | None = Field(None, max_length=512)
    fbc: str | None = Field(None, max_length=1024)
    twclid: str | None = Field(None, max_length=512)
    ttclid: str | None = Field(None, max_length=512)
    ttp: str | None = Field(None, max_length=512)
    subscription_id: str | None = Field(None, max_length=256)
    lead_id: str | None = Field(None, max_length=256)
    madid: str | None = Field(None, max_length=256)


CONTACT_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "gender",
    "date_of_birth",
    "city",
    "state",
    "zip",
    "country",
    "external_id",
)
ID_FIELDS = ("fbp", "fbc", "twclid", "ttclid", "ttp", "subscription_id", "lead_id", "madid")


class ConsentIn(_Strict):
    tcf: str | None = Field(None, max_length=8192)
    gdpr_applies: bool | None = None
    gpp: str | None = Field(None, max_length=8192)
    gpp_sid: str | list[int] | None = None
    usp: str | None = Field(None, max_length=16)
    gcm: dict[str, Literal["granted", "denied"]] | None = None
    gcs: str | None = Field(None, max_length=16)
    gpc: bool = False


class EventIn(_Strict):
    event_name: str = Field(min_length=1, max_length=255)
    event_id: str | None = Field(None, min_length=1, max_length=255)
    event_time: int | float | str | None = None
    action_source: ActionSource | None = None
    event_source_url: str | None = Field(None, max_length=4096)
    referrer_url: str | None = Field(None, max_length=4096)
    user: UserIn = UserIn()
    custom: dict[str, Any] = {}
    consent: ConsentIn = ConsentIn()
    opt_out: bool = False

    @field_validator("custom")
    @classmethod
    def _money(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("value", "predicted_ltv"):
            if key in value:
                value[key] = _finite_number(value[key], key)
        return value

    @field_validator("event_time")
    @classmethod
    def _finite(cls, value: int | float | str | None) -> int | float | str | None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def _finite_number(raw: Any, key: str) -> float:
    try:
        number = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{key} must be a number")
    return number


class EventError(ValueError):
    """One event is invalid; the message says which field and why."""


def parse_event(raw: Any) -> EventIn:
    """Validate one event object, or raise :class:`EventError` with a short clear message."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object")
    try:
        return EventIn.model_validate(raw)
    except ValidationError as exc:
        raise EventError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if _is_field(p))
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if err["type"] == "missing":
        return f"{loc}: required"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _is_field(part: int | str) -> bool:
    text = str(part)
    return not any(c in text for c in "[-") and text not in ("str", "int", "float", "bool")


def new_event_id() -> str:
    return str(uuid.uuid4())


def resolve_event_time(value: int | float | str | None, now: float, action_source: str) -> int:
    """Unix seconds for ``event_time``: default now, ISO-8601 accepted, small future skew clamped,
    too far in the future or older than the platforms accept rejected with a reason."""
    if value is None:
        return int(now)
    if isinstance(value, str):
        seconds = _parse_time_text(value)
    else:
        seconds = float(value)
        if seconds > 1e11:  # milliseconds: a common client mistake, read as such
            seconds /= 1000
    if seconds > now + MAX_FUTURE_SECONDS:
        raise EventError("event_time: is in the future")
    max_days = MAX_AGE_DAYS.get(action_source, DEFAULT_MAX_AGE_DAYS)
    if seconds < now - max_days * 86400:
        raise EventError(f"event_time: older than {max_days} days, platforms refuse it")
    return int(min(seconds, now))


def _parse_time_text(value: str) -> float:
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text) / (1000 if float(text) > 1e11 else 1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EventError("event_time: not Unix seconds or an ISO-8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
