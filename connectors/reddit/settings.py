"""The ``reddit`` connector block of the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from connectors.settings import EventMapSettings, unset_when_empty


class RedditSettings(EventMapSettings):
    """Reddit Conversions API v3 (``POST /api/v3/pixels/{pixel_id}/conversion_events``). ``access_token``:
    a Conversion Access Token from Events Manager (or an OAuth token with ``adsconversions``)."""

    token_hint: ClassVar[str] = "the Conversion Access Token (e.g. ${REDDIT_ACCESS_TOKEN})"
    path_ids: ClassVar[Mapping[str, str]] = {"pixel_id": "the Reddit Pixel id, e.g. a2_abcdef123456"}

    type: Literal["reddit"] = "reddit"
    api_base: str = "https://ads-api.reddit.com"
    #: the Reddit Pixel id (``a2_...`` or ``t2_...``)
    pixel_id: str = Field(min_length=1)
    #: Events Manager's test id; test events are shown there and not attributed
    test_id: str | None = None

    _optional = unset_when_empty("test_id")


__all__ = ["RedditSettings"]
