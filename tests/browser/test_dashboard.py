"""The dashboard in headless Chromium: sign in with the admin token, see connectors and deliveries,
open an event's trace, resume a paused connector; charts, coverage, audiences and paging checked against
what was sent, with screenshots at desktop (1280 px) and phone (390 px) widths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.sandbox.base import ScriptedResponse
from tests.browser.conftest import admin_page, sign_in, submit_token
from tests.browser.layout import assert_fits, png_width
from tests.e2e.harness import ADMIN_TOKEN, API_KEY, Relay, purchase, run_relay

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
        async with admin_page(browser, ADMIN_TOKEN) as (page, _):
            await page.goto(f"{relay.base}/admin/")
            row = page.locator("#audiences tr", has_text="pushed")
            await row.wait_for(timeout=TIMEOUT_MS)
            text = await row.inner_text()
            assert "api" in text and "never" in text and "manual" in text and "meta" in text


async def test_sign_in_trace_and_resume(browser: Browser, relay: Relay, tmp_path: Path) -> None:
    relay.fake("meta").script(
        ScriptedResponse(status=400, body={"error": {"message": "Invalid OAuth access token", "code": 190}})
    )
    await relay.post_events(purchase("dash-1"))
    await relay.wait_for(
        lambda: any(r.path.endswith("/events") for r in relay.fake("meta").requests), what="first attempt"
    )
    async with admin_page(browser) as (page, blocked):
        await sign_in(page, f"{relay.base}/admin/", "not-the-token")
        assert "not right" in await page.text_content("body")  # type: ignore[operator]
        await submit_token(page)
        await page.wait_for_selector("#connectors td", timeout=TIMEOUT_MS)
        await page.wait_for_selector("#audiences td", timeout=TIMEOUT_MS)
        assert "no audiences configured" in await page.inner_text("#audiences")
        paused = page.locator("#connectors tr", has_text="paused")
        await paused.wait_for(timeout=TIMEOUT_MS)
        assert "Invalid OAuth access token" in await paused.inner_text()
        await page.locator("a[data-event='dash-1']").first.click(timeout=TIMEOUT_MS)
        # a locator, not wait_for_function: the dashboard's CSP forbids the eval that one needs
        await page.locator("#trace li", has_text="Attempt to meta: paused · HTTP 400").wait_for(
            timeout=TIMEOUT_MS
        )
        trace = await page.text_content("#trace")
        assert (
            trace is not None and "Invalid OAuth access token" in trace and "sandbox-meta-token" not in trace
        )
        assert "Consent for meta: allow" in trace and "region us default allow" in trace
        await check_request(page)
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
        assert blocked == []


UNIX_TIME = re.compile(r"\b1[6-9]\d{8}\b")
ISO_LIKE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
WINDOWS = ("1h", "24h", "7d")
KEY_ELEMENTS = [
    "header",
    "#tiles .tile",
    "svg[data-chart]",
    "[data-coverage='meta']",
    "#connectors tr[data-connector]",
    "#deliveries tr[data-delivery]",
    "#trace ol.timeline",
    "[data-audience='pushed']",
]
MONITORED = {
    "pushed": {
        "source": {"type": "api"},
        "schedule": "manual",
        "destinations": {"meta": {"audience_id": "77"}},
    }
}


def lead(event_id: str) -> dict[str, Any]:
    """A server event carrying only an external id and a _fbp cookie."""
    user = {"external_id": f"cust-{event_id}", "fbp": "fb.1.1596403881668.1116446470"}
    return {"event_name": "Lead", "event_id": event_id, "action_source": "website", "user": user}


async def seed(relay: Relay) -> None:
    """20 purchases (email, phone, IP + UA), 8 leads (external id, fbp), one purchase from the EU (denied),
    and an api audience of 3 synced to Meta."""
    events = [purchase(f"buy-{i}") for i in range(20)] + [lead(f"lead-{i}") for i in range(8)]
    for event in events:
        assert (await relay.post_events(event, headers={"cf-ipcountry": "US"})).status_code == 202
    assert (await relay.post_events(purchase("eu-1"), headers={"cf-ipcountry": "DE"})).status_code == 202

    async def settled() -> bool:
        return not any(d["status"] in ("pending", "in_flight") for d in await relay.deliveries())

    await relay.wait_for(settled, what="every delivery finished")
    members = {"add": [{"email": f"member{i}@example.com"} for i in range(3)]}
    url = f"{relay.base}/v1/audiences/pushed/members"
    response = await relay.client.post(url, json=members, headers={"authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 202
    run = await sync_audience(SyncEnv.from_relay(relay.state), "pushed", SyncOptions(attempts=1))
    assert run.status == "ok"


async def delivery_ids(page: Page) -> list[str]:
    rows = page.locator("#deliveries tbody tr[data-delivery]")
    return [str(await row.get_attribute("data-delivery")) for row in await rows.all()]


async def check_charts(page: Page) -> None:
    for window in WINDOWS:
        await page.click(f"[data-window='{window}']")
        await page.locator("#window-note", has_text=f"last {window},").wait_for(timeout=TIMEOUT_MS)
        assert await page.get_attribute(f"[data-window='{window}']", "aria-pressed") == "true"
        received = page.locator("svg[data-chart='Events received']")
        assert await received.get_attribute("data-total") == "29"
        bars = page.locator("svg[data-chart='meta · outcomes'] rect.bar")
        values = [int(await b.get_attribute("data-v") or 0) for b in await bars.all()]
        assert sum(values) == 29 and await bars.first.is_visible()
        deny = page.locator("svg[data-chart='meta · consent decisions'] rect.bar[data-series='deny']")
        assert [await b.get_attribute("data-v") for b in await deny.all()] == ["1"]
        assert await page.locator("svg[data-chart='meta · time to delivery'] circle.point").count() >= 1


async def check_deliveries(page: Page) -> None:
    first = await delivery_ids(page)
    assert len(first) == 25 and await page.is_disabled("#newer")
    times = [await t.inner_text() for t in await page.locator("#deliveries time").all()]
    assert times and all(ISO_LIKE.match(t) for t in times), times[:3]
    await page.click("#older")
    await page.locator("#page", has_text="page 2").wait_for(timeout=TIMEOUT_MS)
    second = await delivery_ids(page)
    assert len(second) == 4 and not set(first) & set(second)
    assert [int(i) for i in first + second] == sorted((int(i) for i in first + second), reverse=True)
    assert await page.is_disabled("#older")
    await page.click("#newer")
    await page.locator("#page", has_text="page 1").wait_for(timeout=TIMEOUT_MS)
    await page.fill("#filter [name=event_name]", "Lead")
    await page.click("#filter button:not([type])")
    await page.locator("#page", has_text="page 1").wait_for(timeout=TIMEOUT_MS)
    await page.locator("#deliveries tbody tr", has_text="lead-0").wait_for(timeout=TIMEOUT_MS)
    names = {await r.inner_text() for r in await page.locator("#deliveries td[data-label='name']").all()}
    assert names == {"Lead"} and len(await delivery_ids(page)) == 8
    await page.fill("#filter [name=event_name]", "")
    await page.select_option("#filter [name=status]", "skipped")
    await page.click("#filter button:not([type])")
    denied = page.locator("#deliveries tbody tr", has_text="eu-1")
    await denied.wait_for(timeout=TIMEOUT_MS)
    assert len(await delivery_ids(page)) == 1 and "deny: " in await denied.inner_text()


async def check_trace(page: Page) -> None:
    await page.select_option("#filter [name=status]", "")
    await page.fill("#filter [name=event_id]", "buy-3")
    await page.click("#filter button:not([type])")
    await page.locator("#deliveries a[data-event='buy-3']").click(timeout=TIMEOUT_MS)
    attempt = page.locator("#trace li", has_text="Attempt to meta: delivered · HTTP 200")
    await attempt.wait_for(timeout=TIMEOUT_MS)
    consent = page.locator("#trace li", has_text="Consent for meta: allow")
    assert "region us default allow" in await consent.inner_text()
    received = await page.locator("#trace li", has_text="Received Purchase").inner_text()
    assert "em, ph" in received and "@" not in received
    assert ISO_LIKE.match(await page.locator("#trace time").first.inner_text())
    await check_request(page)


async def check_request(page: Page) -> None:
    """The attempt shows the request the connector sent, masked: Meta's token sits in the URL."""
    request = page.locator("#trace details.attempt-request").first
    await request.locator("summary").click(timeout=TIMEOUT_MS)
    shown = await request.locator("pre").inner_text()
    first_line = shown.splitlines()[0]
    assert first_line.startswith("POST http") and "/events?" in first_line
    assert "access_token=***" in first_line and "sandbox-meta-token" not in shown
    # the body as sent, its list of events cut to the first: whole JSON, shown pretty-printed
    assert shown.splitlines()[1] == "{" and '"data": [' in shown and '"event_name": "Purchase"' in shown
    assert "@" not in shown  # contact details went out hashed, and are masked here besides
    await request.locator("summary").click()  # closed again: the wire body holds Unix times, as sent


async def check_panels(page: Page) -> None:
    coverage = page.locator("[data-coverage='meta']")
    await coverage.wait_for(timeout=TIMEOUT_MS)
    assert "28 events" in await coverage.inner_text()
    expected = {
        "email": ("20", "71%"),
        "phone": ("20", "71%"),
        "external_id": ("8", "29%"),
        "ip_ua": ("20", "71%"),
    }
    for key, (count, share) in {**expected, "fbp_fbc": ("8", "29%")}.items():
        meter = coverage.locator(f"[data-key='{key}']")
        assert await meter.get_attribute("data-count") == count and share in await meter.inner_text()
    audience = page.locator("[data-audience='pushed'] [data-destination='meta']")
    await audience.wait_for(timeout=TIMEOUT_MS)
    assert "3 members" in await audience.inner_text() and "+3 / \u22120" in await audience.inner_text()
    assert "ok" in await page.locator("[data-audience='pushed']").inner_text()


async def check_layout(page: Page, shot: Path, width: int) -> None:
    """Key elements visible inside the viewport's width, no horizontal scroll, a screenshot of that width."""
    await assert_fits(page, KEY_ELEMENTS, width)
    text = await page.inner_text("main")
    assert not UNIX_TIME.search(text), UNIX_TIME.search(text)
    assert "example.com" not in text and "sandbox-meta-token" not in text
    await page.screenshot(path=str(shot), full_page=True)
    assert png_width(shot) == width and shot.stat().st_size > 30_000


async def test_monitoring_at_desktop_and_phone_widths(browser: Browser, tmp_path: Path) -> None:
    overrides: dict[str, Any] = {"server": {"country_header": "CF-IPCountry"}, "audiences": MONITORED}
    async with run_relay(tmp_path, **overrides) as relay:
        await seed(relay)
        async with admin_page(browser) as (page, blocked):
            await sign_in(page, f"{relay.base}/admin/")
            await page.wait_for_selector("#deliveries tr[data-delivery]", timeout=TIMEOUT_MS)
            await check_charts(page)
            await check_panels(page)
            await check_deliveries(page)
            await check_trace(page)
            await check_layout(page, tmp_path / "dashboard-1280.png", 1280)
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.click("[data-window='1h']")  # re-rendered at the phone width
            await page.locator("#window-note", has_text="last 1h,").wait_for(timeout=TIMEOUT_MS)
            await check_layout(page, tmp_path / "dashboard-390.png", 390)
            label = page.locator("#deliveries td[data-label='status']").first
            assert await label.evaluate("e => getComputedStyle(e, '::before').content") == '"status"'
            assert blocked == []
