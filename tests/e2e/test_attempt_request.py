"""Issue 15: every attempt keeps the request its connector sent, masked, and the event trace shows it.

The connectors of config.example.yaml (every type: Meta, X, TikTok, Snap, Pinterest, Reddit, LinkedIn,
Google Ads, webhook) deliver one purchase to the built-in sandbox through the real worker; the admin API's
trace then holds, per attempt, ``METHOD URL`` and the body, with no secret of any block in it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay.testing import free_port
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
_DEFAULT = re.compile(r"\$\{[A-Z_]+:-(?P<value>[^{}]*)\}")
SECRET_KEYS = ("access_token", "secret", "consumer_key", "consumer_secret", "access_token_secret")


def example_connectors(port: int) -> dict[str, dict[str, Any]]:
    """The example's connector blocks with their defaults filled in, pointed at this relay's sandbox."""
    text = (ROOT / "config.example.yaml").read_text()
    text = text.replace("${RELAY_SANDBOX_BASE:-http://127.0.0.1:${RELAY_PORT:-8000}/sandbox}", "{sb}")
    text = _DEFAULT.sub(lambda m: m["value"], text).replace("{sb}", f"http://127.0.0.1:{port}/sandbox")
    blocks: dict[str, dict[str, Any]] = yaml.safe_load(text)["connectors"]
    for block in blocks.values():  # what this test does not exercise (catalogs, engagement, audiences)
        for key in ("catalog_id", "ad_account_id", "send_engagement"):
            if block["type"] == "meta":
                block.pop(key, None)
    return blocks


def secrets_of(blocks: dict[str, dict[str, Any]]) -> list[str]:
    found = [str(b[k]) for b in blocks.values() for k in b if "token" in k or k in SECRET_KEYS]
    return [s for s in found if len(s) >= 8]


async def test_every_connector_records_its_request_masked(tmp_path: Path) -> None:
    port = free_port()
    blocks = example_connectors(port)
    assert {b["type"] for b in blocks.values()} >= {
        "meta", "x", "tiktok", "snap", "pinterest", "reddit", "linkedin", "google_ads", "webhook"
    }  # fmt: skip
    async with run_relay(tmp_path, port=port, connectors=blocks) as relay:
        event = purchase("req-1", user={**purchase("x")["user"], "gclid": "Cj0KCQiA-test-gclid"})
        assert (await relay.post_events(event)).status_code == 202
        for name in blocks:
            await relay.wait_status("req-1", name, "delivered")
        trace = (await relay.admin("events/req-1")).json()
    attempts = {d["connector"]: d["attempt_log"] for d in trace["events"][0]["deliveries"]}
    assert set(attempts) == set(blocks)
    secrets = secrets_of(blocks)
    assert len(secrets) >= 9
    for name, log in attempts.items():
        request = log[-1]["request"]
        assert request and request.startswith("POST http://127.0.0.1:"), (name, request)
        assert f"/sandbox/{name}" in request.splitlines()[0] or name == "webhook", (name, request)
        assert len(request) <= 1000
        assert [s for s in secrets if s in request] == [], (name, request)
        assert "@" not in request and "555-1212" not in request, (name, request)  # contact details hashed
        assert "Authorization" not in request and "oauth_signature" not in request  # headers never kept
        assert "203.0.113.9" not in request, (name, request)  # the visitor's IP: not in the trace
    # the platforms that take the IP raw show where it went, not what it was
    for name in ("meta", "x", "tiktok", "snap", "pinterest"):
        assert '"[ip]"' in attempts[name][-1]["request"], (name, attempts[name][-1]["request"])
    assert "access_token=***" in attempts["meta"][-1]["request"].splitlines()[0]
    assert "req-1" in attempts["webhook"][-1]["request"]  # the body as sent
