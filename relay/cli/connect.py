"""``relay check --connect``: is the storage reachable and migrated, and do the platforms accept each
connector's credentials? Each platform is asked one harmless read (nothing is sent or changed):
the connector's own ``verify()`` (:class:`connectors.base.VerifiableConnector`), e.g. Meta reads
``GET /{version}/{pixel_id}?fields=id``, X reads ``GET /12/accounts/{ads_account_id}`` signed with OAuth 1.0a.
A connector without ``verify()`` (a plugin's, the webhook) is reported as not verified.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    if not isinstance(connector, VerifiableConnector):
        return Finding(subject, True, f"not verified: type {block.type} has no credentials check")
    try:
        ok, detail = await connector.verify()
    except httpx.HTTPError as exc:
        return Finding(subject, False, f"{block.api_base} unreachable: {describe(exc) or type(exc).__name__}")
    return Finding(subject, bool(ok), mask_text(str(detail), secrets))
