"""``/pixel.js`` with the click ids of TikTok, Snap, Pinterest, Reddit, LinkedIn and Google: a landing
with any of them is the visit's first hit, and the relay keeps each click id in its cookie."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import open_context
from tests.e2e.harness import Relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
SHOP = "/sandbox/shop"


async def test_landing_click_ids_become_first_party_cookies(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay, consent="accept")
    page = await context.new_page()
    query = "ScCid=sc-1&epik=ep-1&rdt_cid=rdt-1&li_fat_id=li-1&gclid=gc-1&gbraid=gb-1&wbraid=wb-1"
    await page.goto(f"{SHOP}/?{query}")
    await page.wait_for_function("window.__relaySent.length > 0")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert {
        k: cookies.get(k) for k in ("_scclid", "_epik", "_rdt_cid", "li_fat_id", "_gbraid", "_wbraid")
    } == {
        "_scclid": "sc-1",
        "_epik": "ep-1",
        "_rdt_cid": "rdt-1",
        "li_fat_id": "li-1",
        "_gbraid": "gb-1",
        "_wbraid": "wb-1",
    }
    assert re.fullmatch(r"GCL\.\d{10}\.gc-1", cookies["_gcl_aw"])


async def test_a_landing_with_only_a_new_click_id_goes_alone_first(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay, consent="accept")
    await context.add_cookies([{"name": "_fbp", "value": "fb.1.1700000000000.1234567890", "url": relay.base}])
    page = await context.new_page()
    await page.goto(f"{SHOP}/?epik=ep-2")
    # the first hit waited for its answer (fetch), so the cookie is there before any later hit
    sent = await page.wait_for_function("window.__relaySent.length > 0 && window.__relaySent[0]")
    assert (await sent.json_value())["via"].startswith("fetch")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert cookies.get("_epik") == "ep-2"
