"""``relay check --connect``: is the storage reachable and migrated, and do the platforms accept each
connector's credentials? Each platform is asked one harmless read (nothing is sent or changed):

- Meta: ``GET /{version}/{pixel_id}?fields=id`` with the access token (and ``appsecret_proof``);
- X: ``GET /12/accounts/{ads_account_id}`` (or ``/12/accounts``) signed with OAuth 1.0a;
- a plugin connector with an async ``verify()`` method: that method.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from connectors.base import Connector, VerifiableConnector
from relay.cli.cause import describe
from relay.masking import mask_text, secret_values
from relay.settings import ConnectorSettings, Settings
from relay.state import make_client
from relay.storage.db import MIGRATIONS, Database

#: X Ads API version of the account read
X_API_VERSION = "12"


@dataclass(frozen=True)
class Finding:
    subject: str
    ok: bool
    detail: str


def storage_findings(url: str) -> list[Finding]:
    """Reachable, and at which schema revision against the newest this relay knows."""
    try:
        db = Database(url)
    except Exception as exc:
        return [Finding("storage", False, f"not a usable URL: {describe(exc)}")]
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return [Finding("storage", False, f"unreachable: {describe(exc)}")]
    finally:
        db.engine.dispose()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    found = [Finding("storage", True, "reachable")]
    if current == head:
        found.append(Finding("migrations", True, f"at the latest schema ({head})"))
    else:
        state = f"at {current}" if current else "empty"
        hint = "run `relay db upgrade` (starting the relay does it too)"
        found.append(Finding("migrations", False, f"{state}, latest is {head}: {hint}"))
    return found


async def connector_findings(settings: Settings, names: list[str] | None = None) -> list[Finding]:
    """One finding per enabled connector: its credentials verified against its platform."""
    from relay.state import build_connectors

    client = make_client(settings)
    try:
        built = build_connectors(settings, client)
        found = []
        for name, block in settings.connectors.items():
            if names is not None and name not in names:
                continue
            if not block.enabled:
                found.append(Finding(f"connector {name}", True, "disabled, not checked"))
                continue
            found.append(await _verify(name, block, built[name], client))
        return found
    finally:
        await client.aclose()


async def _verify(
    name: str, block: ConnectorSettings, connector: Connector, client: httpx.AsyncClient
) -> Finding:
    subject = f"connector {name}"
    secrets = secret_values(block)
    check: Callable[[Any, httpx.AsyncClient], Awaitable[tuple[bool, str]]] | None = _CHECKS.get(block.type)
    try:
        if check is not None:
            ok, detail = await check(block, client)
        elif isinstance(connector, VerifiableConnector):
            ok, detail = await connector.verify()
        else:
            return Finding(subject, True, f"not verified: type {block.type} has no credentials check")
    except httpx.HTTPError as exc:
        return Finding(subject, False, f"{block.api_base} unreachable: {describe(exc) or type(exc).__name__}")
    return Finding(subject, bool(ok), mask_text(str(detail), secrets))


async def _meta(block: Any, client: httpx.AsyncClient) -> tuple[bool, str]:
    token = block.access_token.get_secret_value()
    params = {"fields": "id", "access_token": token}
    if block.app_secret is not None:
        key = block.app_secret.get_secret_value().encode()
        params["appsecret_proof"] = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    url = f"{block.api_base}/{block.api_version}/{block.pixel_id}"
    response = await client.get(url, params=params)
    if response.status_code == 200:
        return True, f"credentials accepted for pixel {block.pixel_id}"
    return False, f"Meta answered {response.status_code}: {_platform_message(response)}"


async def _x(block: Any, client: httpx.AsyncClient) -> tuple[bool, str]:
    from connectors.x.oauth1 import OAuth1Auth, OAuth1Credentials

    if not block.has_oauth:
        return True, "not verified: a pixel_token can only send events (no harmless call to check it)"
    keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    auth = OAuth1Auth(OAuth1Credentials(*(getattr(block, k).get_secret_value() for k in keys)))
    account = block.ads_account_id
    url = f"{block.api_base}/{X_API_VERSION}/accounts" + (f"/{account}" if account else "")
    response = await client.get(url, auth=auth)
    if response.status_code == 200:
        what = f"ads account {account}" if account else "the ads accounts list"
        return True, f"credentials accepted ({what} readable)"
    return False, f"X answered {response.status_code}: {_platform_message(response)}"


_CHECKS: dict[str, Callable[[Any, httpx.AsyncClient], Awaitable[tuple[bool, str]]]] = {"meta": _meta, "x": _x}


def _platform_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0])
    return str(body)[:200]
