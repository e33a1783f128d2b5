"""``/admin/results`` and ``GET /admin/api/results`` end to end: events posted over HTTP to a real relay
(uvicorn, SQLite file, fake Meta), delivered by its worker, then the campaign results read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ADMIN_TOKEN, Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def visit(event_id: str, fbp: str, url: str, name: str = "PageView", **custom: Any) -> dict[str, Any]:
    return {
        "event_name": name,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": url,
        "user": {"fbp": fbp, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (test)"},
        "custom": custom,
    }


async def send(relay: Relay, event: dict[str, Any], country: str = "US") -> None:
    response = await relay.post_events(event, headers={"cf-ipcountry": country})
    assert response.status_code == 202, response.text


async def test_results_by_campaign_platform_landing_page_and_region(tmp_path: Path) -> None:
    async with run_relay(tmp_path, server={"country_header": "CF-IPCountry"}) as relay:
        ad = "https://shop.example/p/mug?utm_source=meta&utm_medium=paid&utm_campaign=spring&fbclid=x1"
        await send(relay, visit("v1", "fb.1.1.111", ad))
        await send(relay, visit("v2", "fb.1.1.111", "https://shop.example/checkout"))
        await send(
            relay,
            visit("b1", "fb.1.1.111", "https://shop.example/done", "Purchase", value=14, currency="EUR"),
        )
        await send(relay, visit("v3", "fb.1.1.222", "https://shop.example/?gclid=g"))
        await send(relay, visit("v4", "fb.1.1.333", "https://shop.example/"), country="DE")
        await relay.wait_status("b1", "meta", "delivered")
        response = await relay.admin("results", params={"window": "24h", "group": "campaign"})
        assert response.status_code == 200
        data = response.json()
        assert data["attribution"] == {"rule": "last non-direct touch", "lookback_days": 7}
        groups = {(g["source"], g["medium"], g["campaign"]): g for g in data["groups"]}
        spring = groups[("meta", "paid", "spring")]
        assert (spring["visitors"], spring["page_views"], spring["conversions"]) == (1, 2, 1)
        assert spring["revenue"] == {"EUR": 14.0} and spring["conversion_rate"] == 1.0
        assert groups[("google", "cpc", "")]["conversions"] == 0
        assert groups[("(direct)", "(none)", "")]["visitors"] == 1
        assert data["totals"]["visitors"] == 3 and data["totals"]["conversions"] == 1
        landing = {p["page"]: p for p in data["landing_pages"]}
        assert landing["shop.example/p/mug"]["conversion_rate"] == 1.0
        assert landing["shop.example/"]["visitors"] == 1 and landing["shop.example/"]["converters"] == 0
        # refused by consent everywhere: stored without its URL and identifiers, so it lands nowhere known
        assert landing["(unknown)"]["visitors"] == 1
        meta = next(p for p in data["platforms"] if p["connector"] == "meta")
        assert meta["total"] == 5 and meta["skipped"] >= 1  # DE: refused by default consent
        places = {p["country"]: p["connectors"]["meta"] for p in data["consent"]}
        assert places["DE"]["share"] == 0.0 and places["US"]["share"] == 1.0
        by_source = (await relay.admin("results", params={"window": "7d", "group": "source"})).json()
        assert {g["source"] for g in by_source["groups"]} == {"meta", "google", "(direct)"}
        # reused for a while (a long window costs seconds): the same computation answers again
        await send(relay, visit("v5", "fb.1.1.444", "https://shop.example/"))
        again = (await relay.admin("results", params={"window": "24h", "group": "campaign"})).json()
        assert again["computed_at"] == data["computed_at"] and again["totals"] == data["totals"]
        assert data["took_seconds"] >= 0


async def test_bad_parameters_and_no_token_are_clear_errors(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        bad = await relay.admin("results", params={"window": "1y"})
        assert bad.status_code == 400 and "window must be one of 24h, 7d, 30d" in bad.json()["detail"]
        bad = await relay.admin("results", params={"group": "country"})
        assert bad.status_code == 400 and "group must be one of" in bad.json()["detail"]
        for limit in ("0", "9" * 5000, "\u00b2", "1e3"):  # beyond int()'s digits, a superscript digit
            bad = await relay.admin("reconcile", params={"limit": limit})
            assert bad.status_code == 400 and "limit must be" in bad.json()["detail"], limit
        empty = (await relay.admin("reconcile")).json()
        assert empty == {"configured": False, "schedule": None, "runs": [], "latest": None}
        for path in ("/admin/api/results", "/admin/api/reconcile"):
            assert (await relay.client.get(relay.base + path)).status_code == 401
        page = await relay.client.get(relay.base + "/admin/results")
        assert page.status_code == 401 and 'name="token"' in page.text  # the sign-in form
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        page = await relay.client.get(relay.base + "/admin/results", headers=headers)
        assert page.status_code == 200 and "campaign results" in page.text
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"


async def test_purchases_without_a_browser_visit_are_direct(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        await send(relay, purchase("srv-1"))  # a server event: hashed email is the visitor
        await relay.wait_status("srv-1", "meta", "delivered")
        data = (await relay.admin("results", params={"window": "24h"})).json()
        assert data["groups"][0]["source"] == "(direct)" and data["totals"]["revenue"] == {"EUR": 42.5}
