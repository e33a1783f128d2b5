"""The ``meta`` connector block of the config file."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.settings import unset_when_empty
from relay.settings import ConnectorSettings

DEFAULT_API_VERSION = "v26.0"

#: Marketing API end dates of the versions the relay refuses (meta.md §10).
_ENDED_VERSIONS = {22: "2026-02-19", 23: "2026-06-09", 24: "2026-11-10"}
#: v24.0 and older are past (or at) their Marketing API end; v25.0 is the oldest one accepted.
OLDEST_SUPPORTED_MAJOR = 25
_VERSION = re.compile(r"v(\d+)\.(\d+)")


class MetaSettings(ConnectorSettings):
    """Meta Conversions API (pixel events) and Custom Audiences."""

    type: Literal["meta"] = "meta"
    api_base: str = "https://graph.facebook.com"
    pixel_id: str = Field(min_length=1)
    access_token: SecretStr
    #: when set, every call carries ``appsecret_proof = HMAC-SHA256(app_secret, access_token)``
    app_secret: SecretStr | None = None
    api_version: str = DEFAULT_API_VERSION
    #: the code of Events Manager > Test Events; test events still count, remove it in production
    test_event_code: str | None = None
    #: overrides of event names: ``{Signup: CompleteRegistration, Debug: null}`` (null = never send)
    events: dict[str, str | None] = Field(default_factory=dict)
    partner_agent: str = "conversion-relay"
    #: the product catalog ``catalogs:`` sync to (Commerce Manager > Catalog > Settings: catalog ID)
    catalog_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")
    #: the ad account lookalike audiences are created in (digits, with or without ``act_``)
    ad_account_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")

    @field_validator("ad_account_id", "catalog_id", mode="before")
    @classmethod
    def _plain_id(cls, value: object) -> object:
        if value == "":
            return None
        return value.removeprefix("act_") if isinstance(value, str) else value

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://graph.facebook.com")
        return value.rstrip("/")

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        # it becomes a path segment of the URL: refuse anything that could change the path
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("must be the pixel (dataset) id, digits only, e.g. '1234567890'")
        return value

    @field_validator("access_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty; set the system user's access token (e.g. ${META_ACCESS_TOKEN})")
        return value

    # "${META_APP_SECRET:-}" left empty means "no app secret", not an empty key
    _optional = unset_when_empty("app_secret", "test_event_code")

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        match = _VERSION.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not a Graph API version; write it like {DEFAULT_API_VERSION}")
        major = int(match.group(1))
        if major < OLDEST_SUPPORTED_MAJOR:
            ended = _ENDED_VERSIONS.get(major)
            when = f"on {ended}" if ended else "before 2026"
            raise ValueError(
                f"{value} reached its Marketing API end {when}; v24.0 and older are no longer accepted: "
                f"use {DEFAULT_API_VERSION} (or v25.0)"
            )
        return value

    @field_validator("events")
    @classmethod
    def _event_names(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        empty = [name for name, target in value.items() if target is not None and not target.strip()]
        if empty:
            raise ValueError(f"empty Meta event name for {empty}; use null to never send an event")
        return value


__all__ = ["DEFAULT_API_VERSION", "MetaSettings"]
