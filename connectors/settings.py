"""Settings models shared by connector blocks: the keys (and their checks) that platforms have in common."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator

from relay.settings import ConnectorSettings

#: an id that stands as one segment of a URL path
_PATH_ID = re.compile(r"[A-Za-z0-9_-]+")


class TokenSettings(ConnectorSettings):
    """A platform reached at ``api_base`` (its default is the example named in errors) with one
    ``access_token``."""

    access_token: SecretStr
    #: what to set when ``access_token`` is empty, e.g. "the member access token (e.g. ${X_TOKEN})"
    token_hint: ClassVar[str] = "the access token"
    #: whether the platform has Limited Data Use (``consent.us_opt_out: ldu``); None says nothing
    ldu_refusal: ClassVar[str | None] = None
    #: id keys that go into a URL path (letters, digits, ``_``, ``-``) → what each must be, for the error
    path_ids: ClassVar[Mapping[str, str]] = {}
    #: id keys made of digits → what each must be, for the error
    digit_ids: ClassVar[Mapping[str, str]] = {}

    @field_validator("*")
    @classmethod
    def _ids(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name in cls.path_ids and not _PATH_ID.fullmatch(value):
            raise ValueError(f"must be {cls.path_ids[name]}")
        if name in cls.digit_ids and value is not None and not value.isdigit():
            raise ValueError(f"must be {cls.digit_ids[name]} (digits)")
        return value

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            example = cls.model_fields["api_base"].default
            raise ValueError(f"must be an http(s) URL such as {example}")
        return value.rstrip("/")

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError(f"is empty; set {cls.token_hint}")
        return value

    @model_validator(mode="after")
    def _ldu(self) -> TokenSettings:
        if self.ldu_refusal is not None and self.consent.us_opt_out == "ldu":
            raise ValueError(f"consent.us_opt_out: {self.ldu_refusal}")
        return self

    def secret_values(self) -> list[str]:
        """The secrets of this block, for masking."""
        return [self.access_token.get_secret_value()]


class EventMapSettings(TokenSettings):
    """A :class:`TokenSettings` whose event names can be overridden."""

    #: overrides of event names: ``{Lead: SIGN_UP, Debug: null}`` (null = never send)
    events: dict[str, str | None] = Field(default_factory=dict)


def empty_is_unset(value: Any) -> Any:
    """An empty text in the config file leaves an optional key unset (``${UNSET_VARIABLE}``)."""
    return None if value == "" else value


def unset_when_empty(*keys: str) -> Any:
    """The validator that applies :func:`empty_is_unset` to ``keys``; in a model:
    ``_optional = unset_when_empty("test_id")``."""
    return field_validator(*keys, mode="before")(empty_is_unset)


def all_or_none(model: BaseModel, keys: Sequence[str], needs: str) -> bool:
    """Whether all of ``keys`` are set (False: none is); raises ``{needs} a, b, c; missing: b`` when only
    some are."""
    given = [key for key in keys if getattr(model, key) is not None]
    if given and len(given) < len(keys):
        missing = ", ".join(key for key in keys if key not in given)
        raise ValueError(f"{needs} {', '.join(keys)}; missing: {missing}")
    return bool(given)


__all__ = ["EventMapSettings", "TokenSettings", "all_or_none", "empty_is_unset", "unset_when_empty"]
