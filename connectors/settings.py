"""Settings models shared by connector blocks: the keys (and their checks) that platforms have in common."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from relay.settings import ConnectorSettings


class TokenSettings(ConnectorSettings):
    """A platform reached at ``api_base`` (its default is the example named in errors) with one
    ``access_token``."""

    access_token: SecretStr
    #: what to set when ``access_token`` is empty, e.g. "the member access token (e.g. ${X_TOKEN})"
    token_hint: ClassVar[str] = "the access token"
    #: whether the platform has Limited Data Use (``consent.us_opt_out: ldu``); None says nothing
    ldu_refusal: ClassVar[str | None] = None

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


__all__ = ["EventMapSettings", "TokenSettings", "empty_is_unset"]
