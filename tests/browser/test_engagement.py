"""Time on page and scroll depth in headless Chromium, on the browser's controlled clock (Playwright's
``page.clock``): only time the page is visible with input in the last ``idleTimeout`` ms counts, the
final beacon carries it once per page view, the relay stores it (skipped for a connector without
``send_engagement``), and an events rule ``ViewContent with engaged_seconds >= 30`` picks the visitor."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from relay.audiences import SyncEnv, SyncOptions, sync_audience
from tests.browser.conftest import beacons, open_context, relay_events, serve_page
from tests.e2e.harness import Relay, run_relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

AUDIENCE = "23840000000000099"
IDLE_MS = 5000
START_MS = 1_767_000_000_000
#: a page exactly 4,000 px tall (the viewport is 800): scrolled to 1,200 px, 50% of it has been seen
TALL = (
    "<!doctype html><html><head><meta charset='utf-8'><style>html,body{margin:0}</style>"
    "<script>window.relay=window.relay||function(){(relay.q=relay.q||[]).push(arguments)};</script>"
    "<script async src='/pixel.js'></script></head>"
    "<body><div style='height:4000px'>article</div></body></html>"
)
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def _reader(browser: Browser, relay: Relay, email: str, active_steps: int) -> tuple[Page, list[str]]:
    """A visitor who reads the tall article: ``active_steps`` moves of the mouse 2 s apart (and a scroll
    to 1,200 px), then 60 s without input, then hides the tab. Returns the page and its events' ids."""
    context, _ = await open_context(browser, relay, config={"engagement": True, "idleTimeout": IDLE_MS})
    page = await context.new_page()
    await page.clock.install(time=START_MS)
    await serve_page(page, "/article", TALL)
    await page.goto("/article")
    await page.wait_for_function("window.relay && window.relay.loaded")
    await page.evaluate(
        "(email) => { relay('identify', {email}); relay('track', 'ViewContent', {content_ids: ['mug']}); }",
        email,
    )
    await page.wait_for_function("window.__relaySent.length >= 2")
    await page.clock.pause_at(START_MS + 100_000)  # loading counted IDLE_MS: nothing happened since
    await page.evaluate("window.scrollTo(0, 1200)")
    for step in range(active_steps):
        await page.mouse.move(100 + step, 100)
        if step < active_steps - 1:
            await page.clock.run_for(2000)
    await page.clock.run_for(60_000)  # reading without input: only IDLE_MS of it counts
    await page.evaluate(HIDE)
    return page, [e["event_id"] for e in await relay_events(page)]


def _engagement(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in sent for e in b["body"]["events"] if e["event_name"] == "PageEngagement"]


async def test_engaged_time_excludes_idle_time_and_feeds_the_audience(
    browser: Browser, tmp_path: Path
) -> None:
    audiences = {
        "engaged": {
            "source": {"type": "events", "include": "ViewContent with engaged_seconds >= 30", "window": "1d"},
            "destinations": {"meta": {"audience_id": AUDIENCE}},
        }
    }
    async with run_relay(tmp_path, audiences=audiences) as relay:
        page, (view, content, engagement_id) = await _reader(browser, relay, "reader@example.com", 15)
        [sent] = _engagement(await beacons(page))
        # 5 s after loading + 14 gaps of 2 s while active + 5 s after the last input; the minute idle
        # and the time hidden do not count
        assert sent["custom"] == {
            "engaged_seconds": 38,
            "scroll_depth": 50,
            "page_event_ids": [view, content],
        }
        assert sent["event_id"] == engagement_id == f"{view}:engagement"
        assert sent["event_source_url"].endswith("/article")

        # shown and hidden again: the page view's engagement was sent already
        show = "Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true})"
        await page.evaluate(show)
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await page.mouse.move(300, 300)
        await page.evaluate(HIDE)
        assert len(_engagement(await beacons(page))) == 1

        skipped = await relay.wait_status(engagement_id, "meta", "skipped")
        assert "send_engagement: false" in json.dumps(skipped)
        await relay.wait_status(content, "meta", "delivered")
        assert engagement_id not in {e["event_id"] for e in relay.fake("meta").events}

        short, (_, brief, _) = await _reader(browser, relay, "skimmer@example.com", 3)  # 5 + 4 + 5 = 14 s
        assert _engagement(await beacons(short))[0]["custom"]["engaged_seconds"] == 14
        await relay.wait_status(brief, "meta", "delivered")
        await relay.wait_for(lambda: _stored(relay) >= 2, 10, "both engagements stored")

        run = await sync_audience(SyncEnv.from_relay(relay.state), "engaged", SyncOptions(attempts=1))
        assert run.status == "ok", run
        rows = relay.fake("meta").audiences.get(AUDIENCE, set())
        assert {v for row in rows for k, v in row if k == "EMAIL"} == {sha("reader@example.com")}


def _stored(relay: Relay) -> int:
    with relay.state.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT custom FROM events WHERE event_name = 'PageEngagement'").all()
    return len(rows)


async def test_a_single_page_navigation_sends_the_previous_page_views_engagement(
    browser: Browser, relay: Relay
) -> None:
    context, _ = await open_context(browser, relay, config={"engagement": True})
    page = await context.new_page()
    await page.clock.install(time=START_MS)
    await serve_page(page, "/article", TALL)
    await page.goto("/article")
    await page.wait_for_function("window.__relaySent.length >= 1")
    await page.clock.pause_at(START_MS + 100_000)
    await page.evaluate("history.pushState({}, '', '/article?page=2')")
    await page.clock.run_for(10)  # the snippet sends on its next tick
    first, engagement, second = await relay_events(page)
    assert [first["event_name"], engagement["event_name"], second["event_name"]] == [
        "PageView",
        "PageEngagement",
        "PageView",
    ]
    assert engagement["event_id"] == f"{first['event_id']}:engagement"
    await relay.wait_status(engagement["event_id"], "meta", "skipped")
    [sent] = _engagement(await beacons(page))
    assert sent["event_source_url"].endswith("/article")  # the page it measured, not the one navigated to
    with relay.state.db.engine.connect() as conn:
        url, custom = conn.exec_driver_sql(
            "SELECT event_source_url, custom FROM events WHERE event_name = 'PageEngagement'"
        ).one()
    # no connector receives it: only its numbers and event ids are kept, no URL or identifier
    assert url is None
    assert json.loads(custom)["page_event_ids"] == [first["event_id"]]
    await context.close()


async def test_engagement_is_off_by_default(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    await serve_page(page, "/article", TALL)
    await page.goto("/article")
    await page.wait_for_function("window.__relaySent.length >= 1")
    await page.mouse.move(10, 10)
    await page.evaluate(HIDE)
    assert [e["event_name"] for e in await relay_events(page)] == ["PageView"]
    assert _engagement(await beacons(page)) == []
    await context.close()


async def test_the_demo_shop_shows_time_on_page(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    await page.goto("/sandbox/shop/product/mug")
    assert await page.text_content("#toggle-engagement") == "Time on page: off"
    await page.click("#toggle-engagement")  # stored, and the page reloads with the option on
    await page.wait_for_function("document.getElementById('toggle-engagement').textContent.endsWith('on')")
    await page.wait_for_function("window.__relaySent.length > 0")
    await page.mouse.move(40, 40)
    await page.click("#add-to-cart button")  # leaving the product page sends its engagement
    await page.wait_for_url("**/checkout?*")
    entry = page.locator("#event-list li", has=page.locator("strong", has_text="PageEngagement"))
    await entry.locator(".detail").wait_for()
    detail = await entry.locator(".detail").text_content() or ""
    skipped = "meta skipped (engagement not sent to meta (send_engagement: false))"
    assert re.fullmatch(r"engaged \d+ s, scrolled \d+% · " + re.escape(skipped), detail), detail
    await context.close()
