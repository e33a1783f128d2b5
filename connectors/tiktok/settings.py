"""The ``tiktok`` connector block of the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from connectors.settings import EventMapSettings, unset_when_empty


class TikTokSettings(EventMapSettings):
    """TikTok Events API 2.0 (web events of one pixel) and custom audiences (customer file segments).
    ``access_token``: the Events API token of the pixel (Events Manager > Settings > Generate Access
    Token)."""

    token_hint: ClassVar[str] = "the pixel's Events API access token (e.g. ${TIKTOK_ACCESS_TOKEN})"
    path_ids: ClassVar[Mapping[str, str]] = {"pixel_code": "the TikTok pixel code, e.g. CABC123DEF456GHI789J"}
    digit_ids: ClassVar[Mapping[str, str]] = {"advertiser_id": "the TikTok advertiser id"}

    type: Literal["tiktok"] = "tiktok"
    api_base: str = "https://business-api.tiktok.com"
    #: the pixel code, sent as ``event_source_id``
    pixel_code: str = Field(min_length=1)
    #: the code of Events Manager > Test Events; test events still count, remove it in production
    test_event_code: str | None = None
    #: custom audiences: the advertiser (ad account) id and a Marketing API token allowed to manage
    #: its audiences (the pixel's Events API token is not); without ``audience_access_token`` the
    #: ``access_token`` is tried
    advertiser_id: str | None = None
    audience_access_token: SecretStr | None = None

    _optional = unset_when_empty("test_event_code", "advertiser_id", "audience_access_token")

    def secret_values(self) -> list[str]:
        """The secrets of this block, for masking."""
        tokens = (self.access_token, self.audience_access_token)
        return [t.get_secret_value() for t in tokens if t is not None]


__all__ = ["TikTokSettings"]
