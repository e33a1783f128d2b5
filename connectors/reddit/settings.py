"""The ``reddit`` connector block of the config file."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from connectors.settings import EventMapSettings, empty_is_unset

_ID = re.compile(r"[A-Za-z0-9_-]+")


class RedditSettings(EventMapSettings):
    """Reddit Conversions API v3 (``POST /api/v3/pixels/{pixel_id}/conversion_events``)."""

    token_hint: ClassVar[str] = "the Conversion Access Token (e.g. ${REDDIT_ACCESS_TOKEN})"

    type: Literal["reddit"] = "reddit"
    api_base: str = "https://ads-api.reddit.com"
    #: the Reddit Pixel id (``a2_...`` or ``t2_...``)
    pixel_id: str = Field(min_length=1)
    #: a Conversion Access Token from Events Manager (or an OAuth token with ``adsconversions``)
    access_token: SecretStr
    #: Events Manager's test id; test events are shown there and not attributed
    test_id: str | None = None

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("must be the Reddit Pixel id, e.g. a2_abcdef123456")
        return value

    @field_validator("test_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return empty_is_unset(value)


__all__ = ["RedditSettings"]
