"""The configuration tree: pydantic models, frozen, ``extra="forbid"``.

Each connector block is validated twice: here against :class:`ConnectorSettings` (the keys
every connector has) and, once the connector types are known, against its own type's
settings model (see ``relay.config``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from relay.catalog.settings import CatalogSettings, LookalikeSettings, lookalike_list
from relay.duration import parse_duration
from relay.periodic import Schedule


class Model(BaseModel):
    """Base of every settings model: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Model):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    cookie_domain: str | None = None
    default_country: str | None = None
    api_keys: tuple[SecretStr, ...] = ()
    admin_token: SecretStr | None = None
    country_header: str | None = None
    region_header: str | None = None
    max_body_bytes: int = Field(65536, gt=0)
    max_batch: int = Field(100, gt=0)
    #: a request body must arrive within this many seconds (else 408 request_timeout)
    body_timeout_seconds: float = Field(10, gt=0)
    #: a request line and headers must arrive within this many seconds (else 408 and the connection closes)
    header_timeout_seconds: float = Field(10, gt=0)
    #: request line plus headers, in bytes (else 431 headers_too_large)
    max_header_bytes: int = Field(16384, ge=1024)
    #: an idle keep-alive connection is closed after this many seconds
    keep_alive_seconds: int = Field(5, gt=0)
    #: /readyz answers 503 when its storage write takes longer than this
    ready_timeout_seconds: float = Field(2, gt=0)
    #: dashboard sessions end this long after sign-in, or after this long unused
    admin_session_hours: float = Field(12, gt=0)
    admin_session_idle_minutes: float = Field(60, gt=0)
    #: failed dashboard sign-ins allowed per client IP per minute (counted per process), then 429
    admin_login_attempts_per_minute: int = Field(5, gt=0)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _drop_empty_keys(cls, value: Any) -> Any:
        # "${RELAY_API_KEY:-}" left empty means "none configured", not an empty key
        if isinstance(value, list | tuple):
            return tuple(v for v in value if v not in ("", None))
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("default_country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("must be an ISO 3166-1 alpha-2 country code such as US")
        return value.upper() if value else value


class StorageSettings(Model):
    url: str = "sqlite:///relay.db"
    #: SQLite only: ``full`` (the default) fsyncs every commit, so a 202 survives a power cut; ``normal``
    #: survives a crash of the relay but may lose the last commits on a power cut or OS crash
    synchronous: Literal["full", "normal"] = "full"
    retention_days: int = Field(30, gt=0)


class DeliverySettings(Model):
    #: a safety bound: with the default backoff, 200 tries last past the 7 days Meta accepts events for
    max_attempts: int = Field(200, gt=0)
    #: retries stop at the earlier of this and the platform's acceptance window; unset: the platform's window
    max_age_hours: float | None = Field(None, gt=0)
    backoff_base_seconds: float = Field(2, ge=0)
    backoff_max_seconds: float = Field(3600, ge=0)
    lease_seconds: float = Field(60, gt=0)
    poll_interval_ms: int = Field(200, gt=0)
    request_timeout_seconds: float = Field(30, gt=0)


DefaultDecision = Literal["allow", "deny"]


class ConsentDefaults(Model):
    """What to decide when an event carries no consent signal at all, per region."""

    eu: DefaultDecision = "deny"
    us: DefaultDecision = "allow"
    other: DefaultDecision = "allow"
    unknown: DefaultDecision = "deny"


class ConsentSettings(Model):
    default: ConsentDefaults = ConsentDefaults()


GcmFlag = Literal["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage"]


class ConnectorConsentSettings(Model):
    """A connector's consent requirements (CONTRACT §5.1)."""

    tcf_purposes: tuple[int, ...] = (1,)
    tcf_vendor_id: int | None = None
    gcm: tuple[GcmFlag, ...] = ()
    us_opt_out: Literal["drop", "ldu", "strip"] = "drop"

    @field_validator("tcf_purposes", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        # YAML reads `yes`/`true` as a boolean, which pydantic would quietly turn into purpose 1
        if isinstance(value, list | tuple) and any(isinstance(p, bool) for p in value):
            raise ValueError("TCF purposes are numbers from 1 to 11, not true/false")
        return value

    @field_validator("tcf_purposes")
    @classmethod
    def _purpose_range(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        # TCF 2.2 defines purposes 1-11; the string has room for 24, but a higher number is a typo
        # that would deny every event, since no CMP can consent to it
        bad = [p for p in value if not 1 <= p <= 11]
        if bad:
            raise ValueError(f"TCF purposes are numbered 1 to 11, got {bad}")
        return value


class ConnectorSettings(Model):
    """Keys every connector block has; each type extends this with its own."""

    type: str
    api_base: str
    enabled: bool = True
    batch_size: int | None = Field(None, gt=0)
    consent: ConnectorConsentSettings = ConnectorConsentSettings()
    #: whether the snippet's PageEngagement events (time on page, scroll depth) go to this platform
    send_engagement: bool = False


class AudienceSourceSettings(Model):
    type: Literal["csv", "sql", "api", "events"]
    path: str | None = None
    url: str | None = None
    query: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    window: str | None = None

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _one_item(cls, value: Any) -> Any:
        """``include: ViewContent with engaged_seconds >= 30`` is a list of one."""
        return [value] if isinstance(value, str) else value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AudienceDestinationSettings(Model):
    audience_id: str
    #: members per platform request; at most the platform's limit (Meta 10,000, X 2,500)
    batch_size: int | None = Field(None, gt=0)


class AudienceSettings(Model):
    source: AudienceSourceSettings
    schedule: Schedule = "manual"
    destinations: dict[str, AudienceDestinationSettings] = {}
    #: lookalike audiences kept on the platform from this one (relay.audiences.lookalike)
    lookalike: tuple[LookalikeSettings, ...] = ()

    @field_validator("lookalike", mode="before")
    @classmethod
    def _lookalike_list(cls, value: Any) -> Any:
        return lookalike_list(value)


class ReconcileSourceSettings(Model):
    """Where the orders come from: a CSV file or a SQL query (``order_id, time, value, currency``)."""

    type: Literal["csv", "sql"]
    path: str | None = None
    url: str | None = None
    query: str | None = None


class ReconcileSettings(Model):
    """Order reconciliation (``relay reconcile``, and on ``schedule`` inside serve/worker)."""

    source: ReconcileSourceSettings
    #: ``event_id`` or ``custom.<key>`` (e.g. ``custom.order_id``): how an order finds its conversion
    match: str = Field("event_id", pattern=r"^(event_id|custom\.[A-Za-z0-9_]{1,64})$")
    event_name: str = "Purchase"
    schedule: str = "manual"
    #: orders older than this are left out (a scheduled run checks this much history)
    window: str = "7d"
    #: value differences up to this are not a mismatch (rounding)
    value_tolerance: float = Field(0.01, ge=0)
    #: scheduled runs also send never-tracked orders that carry a consent basis
    send_missing: bool = False
    #: matched by a custom key, an order younger than this is not sent yet: its browser event (whose own
    #: event_id the relay cannot tie to the order) may still arrive, and the platform would count both
    send_missing_after: str = "1h"

    @field_validator("schedule", "window", "send_missing_after")
    @classmethod
    def _duration(cls, value: str, info: Any) -> str:
        if not (info.field_name == "schedule" and value == "manual"):
            parse_duration(value)
        return value


class Settings(Model):
    """The whole configuration file."""

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    delivery: DeliverySettings = DeliverySettings()
    sandbox: bool = False
    consent: ConsentSettings = ConsentSettings()
    #: raw blocks; ``relay.config.load_settings`` validates each with its type's model
    connectors: dict[str, ConnectorSettings] = {}
    audiences: dict[str, AudienceSettings] = {}
    #: product catalogs synced to the platforms (relay.catalog)
    catalogs: dict[str, CatalogSettings] = {}
    reconcile: ReconcileSettings | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
