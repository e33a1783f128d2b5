"""The dashboard in headless Chromium: sign in with the admin token, see connectors and deliveries,
open an event's trace, resume a paused connector."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser

from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import ADMIN_TOKEN, Relay, purchase, run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
TIMEOUT_MS = 10_000


async def test_audiences_panel_shows_each_audience(browser: Browser, tmp_path: Path) -> None:
    audiences = {
        "pushed": {
            "source": {"type": "api"},
            "schedule": "manual",
            "destinations": {"meta": {"audience_id": "a1"}},
        }
    }
    async with run_relay(tmp_path, run_worker=False, audiences=audiences) as relay:
        context = await browser.new_context(extra_http_headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
        page = await context.new_page()
        try:
            await page.goto(f"{relay.base}/admin/")
            row = page.locator("#audiences tr", has_text="pushed")
            await row.wait_for(timeout=TIMEOUT_MS)
            text = await row.inner_text()
            assert "api" in text and "never" in text and "manual" in text and "meta" in text
        finally:
            await context.close()


async def test_sign_in_trace_and_resume(browser: Browser, relay: Relay, tmp_path: Path) -> None:
    relay.fake("meta").script(
        ScriptedResponse(status=400, body={"error": {"message": "Invalid OAuth access token", "code": 190}})
    )
    await relay.post_events(purchase("dash-1"))
    await relay.wait_for(
        lambda: any(r.path.endswith("/events") for r in relay.fake("meta").requests), what="first attempt"
    )
    context = await browser.new_context()
    page = await context.new_page()
    refused: list[str] = []  # what the pages' Content-Security-Policy blocked: nothing of their own
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        response = await page.goto(f"{relay.base}/admin/")
        assert response is not None and response.status == 401  # the login form
        await page.fill("#token", "not-the-token")
        await page.click("button[type=submit]")
        assert "not right" in await page.text_content("body")  # type: ignore[operator]
        await page.fill("#token", ADMIN_TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#connectors td", timeout=TIMEOUT_MS)
        await page.wait_for_selector("#audiences td", timeout=TIMEOUT_MS)
        assert "no audiences configured" in await page.inner_text("#audiences")
        paused = page.locator("#connectors tr", has_text="paused")
        await paused.wait_for(timeout=TIMEOUT_MS)
        assert "Invalid OAuth access token" in await paused.inner_text()
        await page.locator("a[data-event='dash-1']").click(timeout=TIMEOUT_MS)
        # a locator, not wait_for_function: the dashboard's CSP forbids the eval that one needs
        await page.locator("#trace", has_text="attempt_log").wait_for(timeout=TIMEOUT_MS)
        trace = await page.text_content("#trace")
        assert trace is not None and '"connector": "meta"' in trace and "sandbox-meta-token" not in trace
        await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        await page.click("[data-resume='meta']")
        await relay.wait_status("dash-1", "meta", "delivered")
        # the session cookie authorises the admin API for this browser only
        stats = await page.evaluate("fetch('/admin/api/stats').then(r => r.status)")
        assert stats == 200
        await page.click("#sign-out")  # a form POST: the session ends server-side
        await page.wait_for_selector("#token", timeout=TIMEOUT_MS)
        assert await page.evaluate("fetch('/admin/api/stats').then(r => r.status)") == 401
        assert refused == []
    finally:
        await context.close()
