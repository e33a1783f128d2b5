"""The ``webhook`` connector's config block."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from relay.settings import ConnectorSettings

MAX_BATCH = 1000
#: header names the relay sets itself; ``headers`` may not override them
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "x-relay-signature", "x-relay-timestamp"}
)


class WebhookSettings(ConnectorSettings):
    """POST batches of canonical events to ``url``, signed with HMAC-SHA256 of ``secret``."""

    type: Literal["webhook"] = "webhook"
    #: where batches are POSTed (``api_base`` is set to it; write only ``url``)
    url: str
    api_base: str = ""
    #: the HMAC-SHA256 key (at least 16 characters); the receiver checks ``X-Relay-Signature`` with it
    secret: SecretStr
    batch_size: int | None = Field(100, gt=0, le=MAX_BATCH)
    #: the whole request must be answered within this many seconds (else retried)
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    #: extra request headers (e.g. the receiver's own API key); values are masked like secrets
    headers: dict[str, SecretStr] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _base_is_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("url") and not data.get("api_base"):
            return {**data, "api_base": data["url"]}
        return data

    @field_validator("url", "api_base")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. ${WEBHOOK_SECRET})")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        reserved = sorted(name for name in value if name.lower() in RESERVED_HEADERS)
        if reserved:
            raise ValueError(f"{reserved} are set by the relay and cannot be overridden")
        return value

    def secret_values(self) -> list[str]:
        return [self.secret.get_secret_value(), *(v.get_secret_value() for v in self.headers.values())]


__all__ = ["MAX_BATCH", "WebhookSettings"]
