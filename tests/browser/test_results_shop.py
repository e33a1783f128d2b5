"""The demo shop feeds the campaign results: a visitor arrives through the home page's "Facebook ad"
link, buys, and the admin results credit facebook / paid with the order's revenue; the order, listed
in an orders CSV, then reconciles cleanly (exit 0)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from playwright.async_api import Browser

from relay.cli import main
from tests.browser.conftest import check_out, open_context
from tests.e2e.harness import run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
SHOP = "/sandbox/shop"


async def test_a_shop_purchase_through_a_campaign_link(browser: Browser, tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        context, _ = await open_context(browser, relay, consent="accept")
        page = await context.new_page()
        try:
            await page.goto(f"{SHOP}/")
            await page.click("#campaign-links a:text('Facebook ad')")
            await page.wait_for_url("**/product/mug?fbclid=demo-fb-click")
            order = await check_out(page)
        finally:
            await context.close()
        await relay.wait_status(order, "meta", "delivered")
        data = (await relay.admin("results", params={"window": "24h", "group": "medium"})).json()
        groups = {(g["source"], g["medium"]): g for g in data["groups"]}
        facebook = groups[("facebook", "paid")]
        assert facebook["conversions"] == 1 and facebook["revenue"] == {"EUR": 14.0}
        assert facebook["page_views"] >= 3  # product, checkout, thanks: after the ad click
        assert groups[("(direct)", "(none)")]["conversions"] == 0  # the home page before the click
        landing = {p["page"]: p for p in data["landing_pages"]}
        assert landing["127.0.0.1/sandbox/shop/"]["converters"] == 1  # the visit landed on the home page
        orders = tmp_path / "orders.csv"
        orders.write_text(f"order_id,time,value,currency\n{order},2026-01-01T00:00:00Z,14.00,EUR\n")
        argv = ["reconcile", "--config", str(relay.config_path), "--orders", str(orders), "--since", "0"]
        assert await anyio.to_thread.run_sync(main, argv) == 0
