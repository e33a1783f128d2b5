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


async def test_the_hot_path_answers_carry_the_security_headers(tmp_path: Path) -> None:
    """``/v1/collect`` and ``/p.gif`` skip the middleware stack: each answer of theirs, success or
    refusal, still has what the stack adds to every other answer."""
    async with run_relay(tmp_path, run_worker=False) as relay:
        event = {"event_name": "PageView", "event_source_url": "https://shop.example/"}
        origin = {"origin": "https://shop.example"}
        answers = {
            "accepted": await relay.client.post(f"{relay.base}/v1/collect", json=event, headers=origin),
            "invalid_json": await relay.client.post(
                f"{relay.base}/v1/collect", content=b"{", headers={"content-type": "application/json"}
            ),
            "origin": await relay.client.post(
                f"{relay.base}/v1/collect", json=event, headers={"origin": "https://evil.example"}
            ),
            "media": await relay.client.post(
                f"{relay.base}/v1/collect",
                content=b"a=1",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "gif": await relay.client.get(f"{relay.base}/p.gif", params={"ev": "PageView"}),
            "gif_contact": await relay.client.get(
                f"{relay.base}/p.gif", params={"ev": "Lead", "em": "a@b.c"}
            ),
            "gif_head": await relay.client.head(f"{relay.base}/p.gif", params={"ev": "PageView"}),
        }
        statuses = {name: r.status_code for name, r in answers.items()}
        assert statuses == {
            "accepted": 202,
            "invalid_json": 400,
            "origin": 403,
            "media": 415,
            "gif": 200,
            "gif_contact": 200,
            "gif_head": 200,
        }
        for name, response in answers.items():
            assert response.headers["x-content-type-options"] == "nosniff", name
            assert int(response.headers["content-length"]) == len(response.content) or name == "gif_head"
        for name in ("accepted", "invalid_json", "origin", "media"):
            assert answers[name].headers["content-type"] == "application/json", name
        assert answers["accepted"].json() == {"accepted": 1, "rejected": []}
        assert answers["accepted"].headers["access-control-allow-origin"] == "https://shop.example"
        assert answers["invalid_json"].json()["error"] == "invalid_json"
        assert answers["media"].json()["error"] == "unsupported_media_type"
        for name in ("gif", "gif_contact", "gif_head"):
            assert answers[name].headers["content-type"] == "image/gif", name
            assert answers[name].headers["cache-control"].startswith("no-store"), name
        assert answers["gif"].content.startswith(b"GIF89a") and answers["gif_head"].content == b""


async def test_other_methods_on_the_hot_paths_go_through_the_router(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        for method, path in (("PUT", "/v1/collect"), ("DELETE", "/v1/collect"), ("POST", "/p.gif")):
            response = await relay.client.request(method, relay.base + path)
            assert response.status_code == 405, (method, path)
            assert response.json()["error"] == "method_not_allowed"
            assert response.headers["x-content-type-options"] == "nosniff"
        preflight = await relay.client.options(
            f"{relay.base}/v1/collect",
            headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
