"""A connector type from another package registers through the entry-point group and delivers."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relay.registry import connector_types
from relay.testing import serve
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install distribution metadata for a 'relay-webhook' package, as pip would."""
    dist = tmp_path / "site" / "relay_webhook-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: relay-webhook\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        "[relay.connectors]\nwebhook = tests.plugin_webhook:WebhookConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()


def test_the_plugin_is_listed_beside_the_builtins(installed_plugin: None) -> None:
    types = connector_types()
    assert {"meta", "x", "webhook"} <= set(types)
    hook = types["webhook"]
    assert (hook.package, hook.version, hook.capabilities) == ("relay-webhook", "1.2.3", ("conversions",))


async def test_events_are_delivered_through_the_plugin(installed_plugin: None, tmp_path: Path) -> None:
    received: list[object] = []

    async def hook(request: Request) -> JSONResponse:
        received.extend(await request.json())
        return JSONResponse({"ok": True})

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hook_base:
        connectors = {"hook": {"type": "webhook", "api_base": hook_base, "consent": {"tcf_purposes": [1]}}}
        async with run_relay(tmp_path, connectors=connectors) as relay:
            await relay.post_events(purchase("order-p1"))
            await relay.wait_status("order-p1", "hook", "delivered")
    assert received == [
        {
            "event_id": "order-p1",
            "event_name": "Purchase",
            "hashed": received[0]["hashed"],  # type: ignore[index]
        }
    ]
    assert len(received[0]["hashed"]["em"][0]) == 64  # type: ignore[index]
