"""The ``pinterest`` connector block of the config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from connectors.settings import EventMapSettings


class PinterestSettings(EventMapSettings):
    """Pinterest API v5 Conversions (``POST /v5/ad_accounts/{ad_account_id}/events``). ``access_token``:
    the conversion access token generated in Ads Manager, sent as ``Authorization: Bearer``."""

    token_hint: ClassVar[str] = "the conversion access token (e.g. ${PINTEREST_ACCESS_TOKEN})"
    ldu_refusal: ClassVar[str | None] = "ldu has no Pinterest equivalent; use drop or strip"
    digit_ids: ClassVar[Mapping[str, str]] = {"ad_account_id": "the Pinterest ad account id"}

    type: Literal["pinterest"] = "pinterest"
    api_base: str = "https://api.pinterest.com"
    ad_account_id: str = Field(min_length=1)
    #: ``?test=true``: Pinterest validates the events and records nothing
    test: bool = False


__all__ = ["PinterestSettings"]
