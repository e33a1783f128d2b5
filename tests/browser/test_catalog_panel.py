"""The dashboard's product catalog panel in headless Chromium: items per destination, the content_ids
warning, lookalikes."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser

from relay.catalog.sync import CatalogEnv, CatalogOptions, sync_catalog
from relay.testing import free_port
from tests.browser.conftest import admin_page
from tests.e2e.harness import ADMIN_TOKEN, purchase, run_relay
from tests.e2e.test_catalog import CATALOG_ID, HEADER, meta_block, product_line

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
TIMEOUT_MS = 10_000


async def test_catalog_panel_shows_items_and_missing_content_ids(browser: Browser, tmp_path: Path) -> None:
    feed = tmp_path / "products.csv"
    feed.write_text(HEADER + product_line("mug") + product_line("tee"))
    port = free_port()
    catalogs = {"shop": {"source": {"type": "csv", "path": str(feed)}, "destinations": ["meta"]}}
    async with run_relay(
        tmp_path, port=port, connectors={"meta": meta_block(port)}, catalogs=catalogs
    ) as relay:
        state = relay.state
        env = CatalogEnv(state.settings, state.db, state.connectors, state.client)
        assert (await sync_catalog(env, "shop", CatalogOptions(poll_interval=0.05))).status == "ok"
        view = purchase("v-1", event_name="ViewContent", custom={"content_ids": ["mug", "poster"]})
        await relay.post_events(view)
        await relay.wait_status("v-1", "meta", "delivered")
        async with admin_page(browser, ADMIN_TOKEN) as (page, _):
            await page.goto(f"{relay.base}/admin/")
            row = page.locator("#catalogs tr", has_text="shop")
            await row.wait_for(timeout=TIMEOUT_MS)
            text = await row.inner_text()
            assert "2 items" in text and CATALOG_ID in text and "ok" in text
            warning = page.locator("#catalog-warnings li", has_text="50% of ViewContent")
            await warning.wait_for(timeout=TIMEOUT_MS)
            card = await page.inner_text("[data-content-ids='meta']")
            assert "1 found, 1 missing (50%)" in card and "poster" in card
            assert "no lookalike audiences yet" in await page.inner_text("#lookalikes")
