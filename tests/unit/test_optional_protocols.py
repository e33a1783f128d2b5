"""The connector's optional abilities are typed Protocols, not ``getattr`` guesses: credentials check
(``relay check --connect``), known secrets (``send-test-event`` masking), and settings that cannot sync
audiences (config loading)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from connectors.base import AudienceSettingsCheck, SecretHolder, VerifiableConnector
from relay.cli.connect import _verify
from relay.cli.testevent import describe_outcome
from relay.config import parse_settings
from relay.exceptions import ConfigError, PayloadRejectedError, RateLimitedError
from relay.settings import ConnectorSettings
from relay.state import build_connectors
from relay.types import Delivered, Failed, Retry, Skipped

pytestmark = pytest.mark.unit

SERVER = {"api_keys": ["k" * 20], "admin_token": "t" * 20}
X_TOKEN = {"type": "x", "pixel_id": "o8z6j", "pixel_token": "tok", "api_base": "https://ads-api.x.com"}
META = {"type": "meta", "pixel_id": "1234567890", "access_token": "token-value-1"}


def _settings(connectors: dict[str, object], destinations: dict[str, object]) -> object:
    audience = {"source": {"type": "api"}, "destinations": destinations}
    return parse_settings({"server": SERVER, "connectors": connectors, "audiences": {"vip": audience}})


def test_settings_that_cannot_sync_audiences_are_refused_at_load_with_their_reason() -> None:
    with pytest.raises(ConfigError) as caught:
        _settings({"x": X_TOKEN}, {"x": {"audience_id": "1"}})
    assert caught.value.key == "audiences.vip.destinations.x"
    assert "need OAuth 1.0a credentials" in str(caught.value)
    settings = _settings({"meta": META}, {"meta": {"audience_id": "1"}})  # no audience_problem: accepted
    meta_block = settings.connectors["meta"]  # type: ignore[attr-defined]
    assert not isinstance(meta_block, AudienceSettingsCheck)


class _Plugin:
    """A plugin connector that checks its own credentials (no built-in check for its type)."""

    def __init__(self, answer: tuple[bool, str]) -> None:
        self.answer = answer

    async def verify(self) -> tuple[bool, str]:
        return self.answer


class _Silent:
    async def deliver(self, events: Sequence[object]) -> Sequence[object]:
        return []


def _block() -> ConnectorSettings:
    return ConnectorSettings(type="plugin", api_base="https://plugin.example")


async def _findings(*connectors: object) -> list[tuple[bool, str]]:
    async with httpx.AsyncClient() as client:
        found = [await _verify("p", _block(), c, client) for c in connectors]  # type: ignore[arg-type]
    return [(f.ok, f.detail) for f in found]


def test_check_connect_asks_a_verifying_plugin_and_says_when_a_connector_cannot_be_checked() -> None:
    assert isinstance(_Plugin((True, "")), VerifiableConnector) and not isinstance(
        _Silent(), VerifiableConnector
    )
    found = asyncio.run(
        _findings(_Plugin((True, "key accepted")), _Plugin((False, "key revoked")), _Silent())
    )
    assert found[:2] == [(True, "key accepted"), (False, "key revoked")]
    assert found[2] == (True, "not verified: type plugin has no credentials check")


def test_built_in_connectors_hold_their_secrets_for_masking() -> None:
    settings = parse_settings({"server": SERVER, "connectors": {"meta": META}})

    async def build() -> object:
        async with httpx.AsyncClient() as client:
            return build_connectors(settings, client)["meta"]

    connector = asyncio.run(build())
    assert isinstance(connector, SecretHolder) and "token-value-1" in connector.secrets()
    assert not isinstance(_Silent(), SecretHolder)


def test_every_outcome_is_described_with_its_http_status() -> None:
    assert describe_outcome(Delivered(status_code=200)).startswith("Delivered (HTTP 200)")
    assert describe_outcome(Skipped(reason="consent denied")) == "Skipped: consent denied"
    retry = describe_outcome(Retry(message="busy", retry_after=30, status_code=503))
    assert retry == "Not delivered, would be retried (HTTP 503), retry after 30s: busy"
    assert describe_outcome(Failed(message="bad", status_code=400)).startswith(
        "Refused by the platform (HTTP 400)"
    )
    assert describe_outcome(RateLimitedError("slow down", status_code=429)).startswith(
        "Failed, would be retried (HTTP 429)"
    )
    assert describe_outcome(PayloadRejectedError("no")) == "Failed, not retried: no"
