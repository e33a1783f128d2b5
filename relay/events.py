"""The canonical event (CONTRACT §4.1) and its validation, one event at a time so a bad event in a
batch never rejects the others."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from relay import limits
from relay.custom import validate_custom
from relay.proxies import client_address
from relay.redact import redact_text
from relay.text import check_text, forbidden_character, is_finite_number, parse_number
from relay.types import ID_KEYS

StrOrList = str | list[str] | None

ActionSource = Literal[
    "website", "app", "email", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
]  # fmt: skip
ACTION_SOURCES: tuple[str, ...] = get_args(ActionSource)
MAX_FUTURE_SECONDS = 300
MAX_AGE_DAYS = {"physical_store": 62}
DEFAULT_MAX_AGE_DAYS = 7
_TIME_FORMS = "must be Unix seconds (a non-negative number) or an ISO-8601 time"


def _contact(value: Any) -> Any:
    """A contact field: one string or a list of them, each within :data:`limits.MAX_CONTACT_VALUE`."""
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) > limits.MAX_CONTACT_VALUES:
            raise ValueError(f"at most {limits.MAX_CONTACT_VALUES} values")
        return [_contact_text(v) for v in value]
    return _contact_text(value)


def _contact_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string or a list of strings")
    text = value.strip()
    if len(text) > limits.MAX_CONTACT_VALUE:
        raise ValueError(f"longer than {limits.MAX_CONTACT_VALUE} characters")
    return text


def _event_time(value: Any) -> Any:
    """Numbers within range (never a bool), or text of bounded length, parsed later."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > limits.MAX_TIME_TEXT:
            raise ValueError(f"longer than {limits.MAX_TIME_TEXT} characters")
        return value
    if not is_finite_number(value) or not 0 <= value <= limits.MAX_EVENT_TIME:
        raise ValueError(_TIME_FORMS)
    return value


def _gpp_sid(value: Any) -> Any:
    if value is None or (isinstance(value, str) and len(value) <= limits.MAX_GPP_SID):
        return value
    if (
        isinstance(value, list)
        and len(value) <= limits.MAX_GPP_SECTIONS
        and all(type(v) is int and 0 <= v <= limits.MAX_GPP_SECTION_ID for v in value)
    ):
        return value
    raise ValueError(
        f"must be text of at most {limits.MAX_GPP_SID} characters or a list of at most "
        f"{limits.MAX_GPP_SECTIONS} section ids"
    )


Contact = Annotated[StrOrList, BeforeValidator(_contact)]
EventTime = Annotated[int | float | str | None, BeforeValidator(_event_time)]
GcmKey = Annotated[str, Field(max_length=limits.MAX_GCM_KEY)]


#: the validation context of an event whose text is known to be free of refused characters
PLAIN: dict[str, bool] = {"plain": True}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        """No control characters in any text field (``custom`` checks its own values); none to look
        for in an event from a :func:`relay.text.plain_json` body (validated with :data:`PLAIN`)."""
        if info.context is PLAIN:
            return value
        texts = value if isinstance(value, list) else value.keys() if isinstance(value, dict) else [value]
        for text in texts:
            if isinstance(text, str):
                check_text(text)
        return value


class UserIn(_Strict):
    email: Contact = None
    phone: Contact = None
    first_name: Contact = None
    last_name: Contact = None
    gender: Contact = None
    date_of_birth: Contact = None
    city: Contact = None
    state: Contact = None
    zip: Contact = None
    country: Contact = None
    external_id: Contact = None
    ip: str | None = Field(None, max_length=limits.MAX_IP)
    user_agent: str | None = Field(None, max_length=limits.MAX_USER_AGENT)
    fbp: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    fbc: str | None = Field(None, max_length=limits.MAX_FBC)
    twclid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    ttclid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    ttp: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    sc_click_id: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    scid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    epik: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    rdt_cid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    rdt_uuid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    li_fat_id: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    gclid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    gbraid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)
    wbraid: str | None = Field(None, max_length=limits.MAX_CLICK_ID)

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        """An IPv4 or IPv6 address (platforms refuse anything else, Meta its whole request); a list in
        ``X-Forwarded-For`` form (a backend passing the header on) gives its first address."""
        if not value:
            return None
        for part in value.split(",")[:8]:
            if (address := client_address(part.strip())) is not None:
                return str(address)
        raise ValueError("not an IP address (IPv4 or IPv6)")

    subscription_id: str | None = Field(None, max_length=limits.MAX_ID)
    lead_id: str | None = Field(None, max_length=limits.MAX_ID)
    madid: str | None = Field(None, max_length=limits.MAX_ID)


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
#: the ``user`` keys of device and click ids, stored raw (as :data:`relay.types.ID_KEYS`)
ID_FIELDS = ID_KEYS


class ConsentIn(_Strict):
    tcf: str | None = Field(None, max_length=limits.MAX_TCF)
    gdpr_applies: bool | None = None
    gpp: str | None = Field(None, max_length=limits.MAX_GPP)
    gpp_sid: Annotated[str | list[int] | None, BeforeValidator(_gpp_sid)] = None
    usp: str | None = Field(None, max_length=limits.MAX_USP)
    gcm: dict[GcmKey, Literal["granted", "denied"]] | None = Field(None, max_length=limits.MAX_GCM_KEYS)
    gcs: str | None = Field(None, max_length=limits.MAX_GCS)
    gpc: bool = False


class EventIn(_Strict):
    event_name: str = Field(min_length=1, max_length=limits.MAX_EVENT_NAME)
    event_id: str | None = Field(None, min_length=1, max_length=limits.MAX_EVENT_ID)
    event_time: EventTime = None
    action_source: ActionSource | None = None
    event_source_url: str | None = Field(None, max_length=limits.MAX_URL)
    referrer_url: str | None = Field(None, max_length=limits.MAX_URL)
    user: UserIn = UserIn()
    custom: dict[str, Any] = {}
    consent: ConsentIn = ConsentIn()
    opt_out: bool = False

    @field_validator("custom")
    @classmethod
    def _custom(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return validate_custom(value, plain=info.context is PLAIN)


class EventError(ValueError):
    """One event is invalid; the message says which field and why."""


def parse_event(raw: Any, *, plain: bool = False) -> EventIn:
    """Validate one event object, or raise :class:`EventError` with a short clear message. ``plain``:
    the object comes from a body :func:`relay.text.plain_json` found free of refused characters, so
    its text is not scanned again field by field."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object")
    try:
        return EventIn.model_validate(raw, context=PLAIN if plain else None)
    except ValidationError as exc:
        raise EventError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The first error, as ``place: reason``; a key the client sent is echoed short, printable and without
    an e-mail address in it."""
    err = exc.errors()[0]
    parts = err["loc"]
    if "[key]" in parts:  # a key itself is invalid: name the object holding it
        parts = parts[: parts.index("[key]") - 1]
    loc = ".".join(_shown(p) for p in parts if _is_field(p))
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if err["type"] == "missing":
        return f"{loc}: required"
    if err["type"] == "string_unicode":  # pydantic's words for an unpaired surrogate
        return f"{loc or 'a key'}: not valid Unicode text (an unpaired surrogate)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if loc and msg.startswith(loc):  # the message names the place itself (custom.contents[0].id: ...)
        return msg
    return f"{loc}: {msg}" if loc else msg


def _shown(part: int | str) -> str:
    """A place in the event as shown in a message: a client's key is echoed short and printable."""
    text = redact_text(str(part))
    if forbidden_character(text) is not None:
        return "(a key with control characters)"
    return text if len(text) <= 40 else text[:40] + "..."


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
    seconds = _parse_time_text(value) if isinstance(value, str) else _seconds(value)
    if seconds > now + MAX_FUTURE_SECONDS:
        raise EventError("event_time: is in the future")
    max_days = MAX_AGE_DAYS.get(action_source, DEFAULT_MAX_AGE_DAYS)
    if seconds < now - max_days * 86400:
        raise EventError(f"event_time: older than {max_days} days, platforms refuse it")
    return int(min(seconds, now))


def _seconds(number: float) -> float:
    # milliseconds: a common client mistake, read as such
    return number / 1000 if number > 1e11 else float(number)


def _parse_time_text(value: str) -> float:
    """Seconds from text: a number in ASCII digits, or an ISO-8601 time (UTC unless it says otherwise)."""
    text = value.strip()
    number = parse_number(text)
    if number is not None:
        if not 0 <= number <= limits.MAX_EVENT_TIME:
            raise EventError(f"event_time: {_TIME_FORMS}")
        return _seconds(number)
    try:
        if not text.isascii():
            raise ValueError(text)
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise EventError(f"event_time: {_TIME_FORMS}") from None
