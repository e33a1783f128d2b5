"""The demo shop's side panel tells what became of each event (issue 15): delivered in green, skipped for
consent in amber with the reason, refused in red with the cause; never "sent" for an event the relay
refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.browser.conftest import open_context
from tests.e2e.harness import run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
SHOP = "/sandbox/shop"


async def colour(page: Page, selector: str) -> str:
    value: str = await page.eval_on_selector(selector, "n => getComputedStyle(n).color")
    return value


async def test_delivered_and_skipped_events_are_told_apart(browser: Browser, tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        context, _ = await open_context(browser, relay, consent="accept")
        page = await context.new_page()
        await page.goto(f"{SHOP}/")
        await page.wait_for_selector("#event-list li.ok")
        assert "delivered" in (await page.text_content("#event-list li.ok .state") or "")
        assert await colour(page, "#event-list li.ok .state") == "rgb(31, 157, 85)"  # green
        await context.close()

        context, _ = await open_context(browser, relay, consent="reject")
        page = await context.new_page()
        await page.goto(f"{SHOP}/")
        await page.wait_for_selector("#event-list li.skipped")
        assert await page.text_content("#event-list li.skipped .state") == "skipped"
        detail = await page.text_content("#event-list li.skipped .detail") or ""
        assert "meta skipped (" in detail  # with the consent reason
        assert await colour(page, "#event-list li.skipped .state") != "rgb(31, 157, 85)"
        assert await page.locator("#event-list li.ok").count() == 0
        await context.close()


async def test_an_event_refused_for_its_origin_is_shown_refused(browser: Browser, tmp_path: Path) -> None:
    async with run_relay(tmp_path, server={"allowed_origins": ["https://shop.example"]}) as relay:
        context, _ = await open_context(browser, relay, consent="accept")
        page = await context.new_page()
        await page.goto(f"{SHOP}/")
        await page.wait_for_selector("#event-list li.refused")
        assert await page.text_content("#event-list li.refused .state") == "refused"
        assert "origin_not_allowed" in (await page.text_content("#event-list li.refused .detail") or "")
        assert await colour(page, "#event-list li.refused .state") == "rgb(197, 48, 48)"  # red
        assert await page.locator("#event-list li.ok").count() == 0
        await context.close()
