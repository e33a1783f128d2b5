"""The ``snap`` connector block of the config file."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from relay.settings import ConnectorSettings

_ID = re.compile(r"[A-Za-z0-9_-]+")


class SnapSettings(ConnectorSettings):
    """Snapchat Conversions API v3 (web events of one Snap Pixel)."""

    type: Literal["snap"] = "snap"
    api_base: str = "https://tr.snapchat.com"
    #: the Snap Pixel id (a UUID), a path segment of ``/v3/{pixel_id}/events``
    pixel_id: str = Field(min_length=1)
    #: the Conversions API token generated in Snap Ads Manager, sent as the ``access_token`` parameter
    access_token: SecretStr
    #: send to ``/v3/{pixel_id}/events/validate``: Snap checks the events and records nothing
    validate_only: bool = False
    #: overrides of event names: ``{Lead: SIGN_UP, Debug: null}`` (null = never send)
    events: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://tr.snapchat.com")
        return value.rstrip("/")

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("must be the Snap Pixel id, e.g. 2d1c4d6e-0b6b-4a9f-9d3c-5e2a1f0c7b88")
        return value

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty; set the Conversions API token (e.g. ${SNAP_ACCESS_TOKEN})")
        return value


__all__ = ["SnapSettings"]
