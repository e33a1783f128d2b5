"""The ``x`` connector's config block."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.settings import all_or_none, unset_when_empty
from relay.settings import ConnectorSettings

#: base36 ids as X shows them in Events Manager (pixel / event source and event tags)
_BASE36 = re.compile(r"[0-9a-z]+")
#: an event tag: ``o87ne`` or the long form ``tw-<pixel_id>-<event_tag>``
_EVENT_TAG = re.compile(r"(?:tw-(?P<pixel>[0-9a-z]+)-)?(?P<tag>[0-9a-z]+)")
OAUTH_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


class XSettings(ConnectorSettings):
    """X Conversions API and Custom Audiences.

    Conversions authenticate with OAuth 1.0a (all four of ``consumer_key``, ``consumer_secret``,
    ``access_token``, ``access_token_secret``) or with a Conversion API ``pixel_token``; when both are
    given, OAuth is used. Custom Audiences need OAuth and ``ads_account_id``.
    """

    type: Literal["x"] = "x"
    api_base: str = "https://ads-api.x.com"
    pixel_id: str
    #: our event name -> X event tag id (``o87ne`` or ``tw-o8z6j-o87ne``); other events are skipped
    event_tags: dict[str, str] = Field(default_factory=dict)
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    pixel_token: SecretStr | None = None
    ads_account_id: str | None = None
    #: audience memberships expire this many days after upload (X's default: 13 months)
    audience_expiry_days: int | None = Field(None, ge=1, le=395)

    # "${X_PIXEL_TOKEN:-}" left empty means "not configured"
    _optional = unset_when_empty(*OAUTH_KEYS, "pixel_token", "ads_account_id")

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("pixel_id")
    @classmethod
    def _pixel_id(cls, value: str) -> str:
        if not _BASE36.fullmatch(value):
            raise ValueError("must be the base36 id of the X pixel (event source), e.g. o8z6j")
        return value

    @model_validator(mode="after")
    def _check(self) -> XSettings:
        self._check_event_tags()
        self._check_auth()
        if self.consent.us_opt_out == "ldu":
            raise ValueError(
                "consent.us_opt_out: ldu (Limited Data Use) is Meta-only; use drop or strip for X"
            )
        return self

    def _check_event_tags(self) -> None:
        for name, tag in self.event_tags.items():
            match = _EVENT_TAG.fullmatch(tag)
            if not match:
                raise ValueError(
                    f"event_tags.{name}: {tag!r} is not an X event tag id (like o87ne or tw-o8z6j-o87ne)"
                )
            if match["pixel"] and match["pixel"] != self.pixel_id:
                raise ValueError(
                    f"event_tags.{name}: {tag!r} belongs to pixel {match['pixel']}, "
                    f"not to pixel_id {self.pixel_id}"
                )

    def _check_auth(self) -> None:
        oauth = all_or_none(self, OAUTH_KEYS, "OAuth 1.0a needs all four of")
        if not oauth and self.pixel_token is None:
            raise ValueError(f"X needs OAuth 1.0a credentials ({', '.join(OAUTH_KEYS)}) or a pixel_token")

    @property
    def has_oauth(self) -> bool:
        return self.consumer_key is not None

    def audience_problem(self) -> str | None:
        """Why this block cannot sync Custom Audiences, or ``None`` when it can."""
        if not self.has_oauth:
            return "X Custom Audiences need OAuth 1.0a credentials (the pixel_token does not apply)"
        if not self.ads_account_id:
            return "X Custom Audiences need ads_account_id"
        return None

    def secret_values(self) -> list[str]:
        """The secrets of this block, for masking."""
        keys = (*OAUTH_KEYS, "pixel_token")
        values = (getattr(self, key) for key in keys)
        return [value.get_secret_value() for value in values if value is not None]


__all__ = ["XSettings"]
