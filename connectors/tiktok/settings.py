"""The ``tiktok`` connector block of the config file."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from connectors.settings import EventMapSettings, empty_is_unset

_CODE = re.compile(r"[A-Za-z0-9_-]+")


class TikTokSettings(EventMapSettings):
    """TikTok Events API 2.0 (web events of one pixel) and custom audiences (customer file segments)."""

    token_hint: ClassVar[str] = "the pixel's Events API access token (e.g. ${TIKTOK_ACCESS_TOKEN})"

    type: Literal["tiktok"] = "tiktok"
    api_base: str = "https://business-api.tiktok.com"
    #: the pixel code, sent as ``event_source_id``
    pixel_code: str = Field(min_length=1)
    #: the Events API token of the pixel (Events Manager > Settings > Generate Access Token)
    access_token: SecretStr
    #: the code of Events Manager > Test Events; test events still count, remove it in production
    test_event_code: str | None = None
    #: custom audiences: the advertiser (ad account) id and a Marketing API token allowed to manage
    #: its audiences (the pixel's Events API token is not); without ``audience_access_token`` the
    #: ``access_token`` is tried
    advertiser_id: str | None = None
    audience_access_token: SecretStr | None = None

    @field_validator("pixel_code")
    @classmethod
    def _pixel_code(cls, value: str) -> str:
        if not _CODE.fullmatch(value):
            raise ValueError("must be the TikTok pixel code, e.g. CABC123DEF456GHI789J")
        return value

    @field_validator("test_event_code", "advertiser_id", "audience_access_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return empty_is_unset(value)

    @field_validator("advertiser_id")
    @classmethod
    def _advertiser(cls, value: str | None) -> str | None:
        if value is not None and not value.isdigit():
            raise ValueError("must be the TikTok advertiser id (digits)")
        return value

    def secret_values(self) -> list[str]:
        """The secrets of this block, for masking."""
        tokens = (self.access_token, self.audience_access_token)
        return [t.get_secret_value() for t in tokens if t is not None]


__all__ = ["TikTokSettings"]
