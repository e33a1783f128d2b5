"""HTTP details every client relies on: JSON errors for unknown routes, admin protection, proxy headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import ADMIN_TOKEN, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_unknown_routes_and_methods_answer_json(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        missing = await relay.client.get(f"{relay.base}/v2/nothing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/json")
        assert missing.json()["error"] == "not_found"
        wrong = await relay.client.get(f"{relay.base}/v1/collect")
        assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


async def test_every_admin_path_needs_the_token(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        for path in ("/admin/api/stats", "/admin/api/nope", "/admin/anything", "/admin/api/events/x"):
            assert (await relay.client.get(relay.base + path)).status_code == 401, path
        wrong = await relay.client.get(
            f"{relay.base}/admin/api/stats", headers={"authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"
        authed = await relay.client.get(
            f"{relay.base}/admin/api/nope", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert authed.status_code == 404 and authed.json()["error"] == "not_found"
        resume = await relay.admin("connectors/nope/resume", "POST")
        assert resume.status_code == 404
        bad = await relay.admin("deliveries", params={"status": "lost"})
        assert bad.status_code == 400


async def test_scheme_and_host_come_from_a_trusted_proxy_only(tmp_path: Path) -> None:
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-host": "t.shop.example"}
    async with run_relay(tmp_path, run_worker=False) as relay:
        login = await relay.client.post(
            f"{relay.base}/admin/login", data={"token": ADMIN_TOKEN}, headers=forwarded
        )
        assert login.status_code == 303
        assert "Secure" in login.headers["set-cookie"] and "HttpOnly" in login.headers["set-cookie"]
    async with run_relay(tmp_path / "direct", run_worker=False, server={"trusted_proxies": []}) as relay:
        login = await relay.client.post(
            f"{relay.base}/admin/login", data={"token": ADMIN_TOKEN}, headers=forwarded
        )
        assert login.status_code == 303 and "Secure" not in login.headers["set-cookie"]
        refused = await relay.client.post(f"{relay.base}/admin/login", data={"token": "nope"})
        assert refused.status_code == 401 and "not right" in refused.text
