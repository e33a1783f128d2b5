"""The ``pinterest`` connector block of the config file."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from connectors.settings import EventMapSettings


class PinterestSettings(EventMapSettings):
    """Pinterest API v5 Conversions (``POST /v5/ad_accounts/{ad_account_id}/events``)."""

    token_hint: ClassVar[str] = "the conversion access token (e.g. ${PINTEREST_ACCESS_TOKEN})"
    ldu_refusal: ClassVar[str | None] = "ldu has no Pinterest equivalent; use drop or strip"

    type: Literal["pinterest"] = "pinterest"
    api_base: str = "https://api.pinterest.com"
    ad_account_id: str = Field(min_length=1)
    #: the conversion access token generated in Ads Manager, sent as ``Authorization: Bearer``
    access_token: SecretStr
    #: ``?test=true``: Pinterest validates the events and records nothing
    test: bool = False

    @field_validator("ad_account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("must be the Pinterest ad account id (digits)")
        return value


__all__ = ["PinterestSettings"]
