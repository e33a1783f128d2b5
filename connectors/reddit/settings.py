"""The ``reddit`` connector block of the config file."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from relay.settings import ConnectorSettings

_ID = re.compile(r"[A-Za-z0-9_-]+")


class RedditSettings(ConnectorSettings):
    """Reddit Conversions API v3 (``POST /api/v3/pixels/{pixel_id}/conversion_events``)."""

    type: Literal["reddit"] = "reddit"
    api_base: str = "https://ads-api.reddit.com"
    #: the Reddit Pixel id (``a2_...`` or ``t2_...``)
    pixel_id: str = Field(min_length=1)
    #: a Conversion Access Token from Events Manager (or an OAuth token with ``adsconversions``)
    access_token: SecretStr
    #: Events Manager's test id; test events are shown there and not attributed
    test_id: str | None = None
    #: overrides of event names: ``{Subscribe: SIGN_UP, Debug: null}`` (null = never send); other
    #: non-standard names go as ``CUSTOM`` events
    events: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://ads-api.reddit.com")
        return value.rstrip("/")

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("must be the Reddit Pixel id, e.g. a2_abcdef123456")
        return value

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty; set the Conversion Access Token (e.g. ${REDDIT_ACCESS_TOKEN})")
        return value

    @field_validator("test_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value


__all__ = ["RedditSettings"]
