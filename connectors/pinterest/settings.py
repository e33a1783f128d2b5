"""The ``pinterest`` connector block of the config file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from relay.settings import ConnectorSettings


class PinterestSettings(ConnectorSettings):
    """Pinterest API v5 Conversions (``POST /v5/ad_accounts/{ad_account_id}/events``)."""

    type: Literal["pinterest"] = "pinterest"
    api_base: str = "https://api.pinterest.com"
    ad_account_id: str = Field(min_length=1)
    #: the conversion access token generated in Ads Manager, sent as ``Authorization: Bearer``
    access_token: SecretStr
    #: ``?test=true``: Pinterest validates the events and records nothing
    test: bool = False
    #: overrides of event names: ``{Subscribe: signup, Debug: null}`` (null = never send)
    events: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://api.pinterest.com")
        return value.rstrip("/")

    @field_validator("ad_account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("must be the Pinterest ad account id (digits)")
        return value

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty; set the conversion access token (e.g. ${PINTEREST_ACCESS_TOKEN})")
        return value

    @model_validator(mode="after")
    def _consent(self) -> PinterestSettings:
        if self.consent.us_opt_out == "ldu":
            raise ValueError("consent.us_opt_out: ldu has no Pinterest equivalent; use drop or strip")
        return self


__all__ = ["PinterestSettings"]
