"""The campaign-results page in headless Chromium: reached from the dashboard's header after signing in,
its tables checked against the events that were sent and the reconciliation that ran, at desktop
(1280 px) and phone (390 px) widths, with screenshots, and nothing refused by its Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from playwright.async_api import Browser, Page

from relay.cli import main
from tests.browser.conftest import admin_page, sign_in
from tests.browser.layout import assert_fits, png_width
from tests.e2e.harness import Relay, run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
TIMEOUT_MS = 10_000
KEY_ELEMENTS = [
    "header",
    "#to-dashboard",
    "#totals .tile",
    "#groups tr[data-source='meta']",
    "#platforms tr[data-connector='meta'] svg",
    "#landing tr[data-page]",
    "#consent tr[data-place='US']",
    "#reconcile-tiles [data-tile='not tracked']",
    "#findings tr[data-order='o-missing']",
    "#runs tr[data-run]",
]


def event(event_id: str, fbp: str, url: str, name: str = "PageView", **custom: Any) -> dict[str, Any]:
    user = {"fbp": fbp, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (test)"}
    return {"event_name": name, "event_id": event_id, "event_source_url": url, "user": user, "custom": custom}


async def seed(relay: Relay, tmp_path: Path) -> None:
    ad = "https://shop.example/p/mug?utm_source=meta&utm_medium=paid&utm_campaign=spring"
    events = [
        event("p1", "fb.1.1.1", ad),
        event("o-1", "fb.1.1.1", "https://shop.example/done", "Purchase", value=14, currency="EUR"),
        event("p2", "fb.1.1.2", "https://shop.example/?gclid=abc"),
    ]
    for e in events:
        response = await relay.post_events(e, headers={"cf-ipcountry": "US"})
        assert response.status_code == 202
    await relay.wait_status("o-1", "meta", "delivered")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,time,value,currency\no-1,1700000000,14,EUR\no-missing,1700000000,20,EUR\n")
    argv = ["reconcile", "--config", str(relay.config_path), "--orders", str(orders), "--since", "0"]
    assert await anyio.to_thread.run_sync(main, argv) == 1


async def check_content(page: Page) -> None:
    spring = page.locator("#groups tr[data-source='meta']")
    await spring.wait_for(timeout=TIMEOUT_MS)
    text = await spring.inner_text()
    assert "spring" in text and "14.00 EUR" in text and "100.0 %" in text
    assert "google" in await page.inner_text("#groups")
    assert "2" in await page.inner_text("#totals [data-tile='visitors']")
    platform = page.locator("#platforms tr[data-connector='meta']")
    assert "3" in await platform.inner_text()
    assert await platform.locator("svg rect").count() >= 1
    assert "100.0 %" in await page.inner_text("#consent tr[data-place='US']")
    assert "shop.example/p/mug" in await page.inner_text("#landing")
    assert "last non-direct touch within 7 days" in await page.inner_text("#attribution")
    assert "not tracked" in await page.inner_text("#findings tr[data-order='o-missing']")
    assert "differences" in await page.inner_text("#reconcile-tiles [data-tile='status']")


async def check_layout(page: Page, shot: Path, width: int) -> None:
    await assert_fits(page, KEY_ELEMENTS, width)
    await page.screenshot(path=str(shot), full_page=True)
    assert png_width(shot) == width and shot.stat().st_size > 20_000


async def test_results_page_at_desktop_and_phone_widths(browser: Browser, tmp_path: Path) -> None:
    async with run_relay(tmp_path, server={"country_header": "CF-IPCountry"}) as relay:
        await seed(relay, tmp_path)
        async with admin_page(browser) as (page, blocked):
            await sign_in(page, f"{relay.base}/admin/results")
            await page.click("#to-results", timeout=TIMEOUT_MS)  # the dashboard header's link
            await page.wait_for_url("**/admin/results", timeout=TIMEOUT_MS)
            await check_content(page)
            await check_layout(page, tmp_path / "results-1280.png", 1280)
            await page.select_option("#group", "source")
            await page.locator("#groups tr[data-source='google']").wait_for(timeout=TIMEOUT_MS)
            assert await page.locator("#groups tbody tr").first.locator("td").count() == 8
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.click("[data-window='30d']")
            await page.locator("body[data-loaded='30d']").wait_for(timeout=TIMEOUT_MS)
            await page.select_option("#group", "campaign")
            await page.locator("#groups tr[data-source='meta']", has_text="spring").wait_for(
                timeout=TIMEOUT_MS
            )
            await check_layout(page, tmp_path / "results-390.png", 390)
            label = page.locator("#groups td[data-label='source']").first
            assert await label.evaluate("e => getComputedStyle(e, '::before').content") == '"source"'
            assert blocked == []
