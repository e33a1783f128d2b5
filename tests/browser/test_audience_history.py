"""The dashboard's Audiences panel in headless Chromium: per audience its size and, per run, what was added
and removed (an SVG chart and a table of the last runs with their times and outcomes), checked against
real syncs, with screenshots at desktop (1280 px) and phone (390 px) widths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.sandbox.base import ScriptedResponse
from tests.browser.conftest import admin_page, sign_in
from tests.browser.layout import assert_fits, png_width
from tests.e2e.harness import API_KEY, Relay, run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]
TIMEOUT_MS = 10_000
AUDIENCES = {
    "pushed": {
        "source": {"type": "api"},
        "schedule": "manual",
        "destinations": {"meta": {"audience_id": "77"}},
    },
    "idle": {
        "source": {"type": "api"},
        "schedule": "manual",
        "destinations": {"meta": {"audience_id": "78"}},
    },
}
SHORT_TIME = re.compile(r"^\d\d-\d\d \d\d:\d\d api$")
#: the panel's parts: each must be displayed and inside the viewport's width
KEY_ELEMENTS = [
    "[data-audience-runs='pushed']",
    "[data-audience-runs='pushed'] [data-members]",
    "[data-audience-runs='pushed'] [data-destination-size='meta']",
    "[data-audience-runs='pushed'] svg[data-chart]",
    "[data-audience-runs='pushed'] table.runs",
    "[data-audience-runs='pushed'] table.runs tr[data-run] td:last-child",
    "[data-audience-runs='pushed'] table.runs td.run-error",
    "[data-audience-runs='idle']",
]


async def push(relay: Relay, body: dict[str, Any]) -> None:
    url = f"{relay.base}/v1/audiences/pushed/members"
    response = await relay.client.post(url, json=body, headers={"authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 202, response.text


async def four_runs(relay: Relay) -> None:
    """Add 3, remove 1, nothing, then Meta fails the 2 new members."""
    env, fast = SyncEnv.from_relay(relay.state), SyncOptions(attempts=1)
    await push(relay, {"add": [{"email": f"p{i}@example.com"} for i in range(3)]})
    assert (await sync_audience(env, "pushed", fast)).status == "ok"
    await push(relay, {"remove": [{"email": "p0@example.com"}]})
    assert (await sync_audience(env, "pushed", fast)).status == "ok"
    assert (await sync_audience(env, "pushed", fast)).status == "ok"
    await push(relay, {"add": [{"email": "p7@example.com"}, {"email": "p8@example.com"}]})
    down = {"error": {"message": "Service temporarily unavailable", "code": 2}}
    relay.fake("meta").script(ScriptedResponse(status=500, body=down))
    assert (await sync_audience(env, "pushed", fast)).status == "failed"


async def values(page: Page, selector: str) -> list[int]:
    return [int(await e.get_attribute("data-v") or -1) for e in await page.locator(selector).all()]


async def check_panel(page: Page) -> None:
    card = page.locator("[data-audience-runs='pushed']")
    await card.locator("table.runs tr[data-run]").first.wait_for(timeout=TIMEOUT_MS)
    assert await card.locator("[data-members]").inner_text() == "4"  # in the source at the last run
    size = card.locator("[data-destination-size='meta']")
    assert await size.inner_text() == "2 on meta" and await size.locator("b").inner_text() == "2"
    assert "last 4 runs" in await card.locator("h3").inner_text()
    chart = card.locator("svg[data-chart='pushed · runs']")
    assert await chart.get_attribute("data-runs") == "4" and await chart.is_visible()
    # oldest on the left: 3 added, then 1 removed; the unchanged run draws nothing; a failed one, a marker
    assert await values(page, "[data-audience-runs='pushed'] rect.run-added") == [3]
    assert await values(page, "[data-audience-runs='pushed'] rect.run-removed") == [1]
    assert await card.locator("rect.run-unfinished").count() == 1
    rows = card.locator("table.runs tr[data-run]")
    assert await rows.count() == 4
    cells = [[await c.inner_text() for c in await row.locator("td").all()] for row in await rows.all()]
    newest, unchanged, removed, added = cells
    assert newest[1:] == ["failed", "+0 / \u22120", "2"] and unchanged[1:] == ["ok", "+0 / \u22120", "0"]
    assert removed[1:] == ["ok", "+0 / \u22121", "0"] and added[1:] == ["ok", "+3 / \u22120", "0"]
    assert all(SHORT_TIME.match(row[0]) for row in cells), cells
    error = card.locator("table.runs td.run-error")
    assert await error.count() == 1 and "meta: Service temporarily unavailable" in await error.inner_text()
    stamp = card.locator("table.runs time").first
    assert re.match(r"^\d{4}-\d\d-\d\dT", await stamp.get_attribute("datetime") or "")
    idle = page.locator("[data-audience-runs='idle']")
    assert "no runs yet" in await idle.inner_text() and await idle.locator("svg").count() == 0
    text = await page.inner_text("#audiences") + await page.inner_text("#audience-runs")
    assert "example.com" not in text and "sandbox-meta-token" not in text


async def check_layout(page: Page, shot: Path, width: int) -> None:
    await assert_fits(page, KEY_ELEMENTS, width)
    section = page.locator("section", has=page.locator("#audience-runs"))
    await section.screenshot(path=str(shot))
    assert png_width(shot) <= width and shot.stat().st_size > 10_000  # the panel fits the viewport
    whole = shot.with_suffix(".page.png")
    await page.screenshot(path=str(whole), full_page=True)
    assert png_width(whole) == width


async def test_audience_runs_panel_at_desktop_and_phone_widths(browser: Browser, tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        await four_runs(relay)
        async with admin_page(browser) as (page, blocked):
            await sign_in(page, f"{relay.base}/admin/")
            await check_panel(page)
            await check_layout(page, tmp_path / "audiences-1280.png", 1280)
            await page.set_viewport_size({"width": 390, "height": 844})
            await check_panel(page)
            await check_layout(page, tmp_path / "audiences-390.png", 390)
            assert blocked == []
