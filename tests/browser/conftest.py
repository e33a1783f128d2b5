"""Headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) against a real relay.

Each test gets its own relay (uvicorn on loopback, SQLite file, built-in sandbox: fake Meta and the
demo shop) and its own browser context, so cookies and storage never leak between tests; one Chromium
process serves the whole session (a launch costs about half a second).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Response, async_playwright

from tests.e2e.harness import ADMIN_TOKEN, Relay, run_relay

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: every wait in these tests is bounded by this (seconds)
TIMEOUT = 10.0
#: an init script recording the snippet's DOM events, so tests read the ids it exposed
RECORD_EVENTS = """
window.__relayEvents = []; window.__relaySent = [];
addEventListener('relay:event', function (e) { window.__relayEvents.push(e.detail); });
addEventListener('relay:sent', function (e) { window.__relaySent.push(e.detail); });
"""
#: records every navigator.sendBeacon call in sessionStorage, which outlives the page: Chromium does
#: not report a beacon sent while a page unloads to the driver, so the tests read this log instead
SPY_BEACON = """
(function () {
  var send = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, data) {
    var ok = send(url, data);
    var log = JSON.parse(sessionStorage.getItem('__beacons') || '[]');
    log.push({url: url, body: JSON.parse(data), ok: ok});
    sessionStorage.setItem('__beacons', JSON.stringify(log));
    return ok;
  };
})();
"""


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Session-scoped, so one Chromium serves every browser test (each test gets a fresh context)."""
    return "asyncio"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get install chromium; .ci/run installs it)"
        )
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    async with run_relay(tmp_path) as running:
        yield running


@dataclass
class Hit:
    """One request the page made to ``/v1/collect``."""

    resource_type: str  # "fetch" for fetch(), "ping" for navigator.sendBeacon
    content_type: str
    body: dict[str, Any]

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.body.get("events", [self.body])
        return events

    @property
    def event_ids(self) -> list[str]:
        return [e["event_id"] for e in self.events]


@dataclass
class Wire:
    """Every ``/v1/collect`` request and every URL a browser context asked for."""

    hits: list[Hit] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.urls.append(request.url)
        if request.url.endswith("/v1/collect") and request.method == "POST":
            body = json.loads(request.post_data or "{}")
            self.hits.append(Hit(request.resource_type, request.headers.get("content-type", ""), body))

    def hit_of(self, event_id: str) -> Hit:
        return next(hit for hit in self.hits if event_id in hit.event_ids)


async def open_context(
    browser: Browser, relay: Relay, *, consent: str | None = "accept", config: dict[str, Any] | None = None
) -> tuple[BrowserContext, Wire]:
    """A fresh browser context on the relay's origin. ``consent`` pre-sets the demo CMP's stored
    choice (``accept``/``reject``; None: a first visit, the banner shows); ``config`` becomes
    ``window.relayConfig``."""
    context = await browser.new_context(base_url=relay.base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT * 1000)
    wire = Wire()
    context.on("request", wire.record)
    await context.add_init_script(RECORD_EVENTS)
    await context.add_init_script(SPY_BEACON)
    if consent is not None:
        await context.add_init_script(f"localStorage.setItem('shop-consent', {json.dumps(consent)});")
    if config is not None:
        await context.add_init_script(f"window.relayConfig = {json.dumps(config)};")
    return context, wire


def bare_page(head: str = "", attributes: str = "") -> str:
    """A bare page with the standard snippet (CONTRACT §6), for scenarios the demo shop does not stage;
    ``attributes`` go on the snippet's ``<script>`` tag."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"{head}"
        "<script>window.relay=window.relay||function(){(relay.q=relay.q||[]).push(arguments)};</script>"
        f"<script async src='/pixel.js' {attributes}></script></head><body><h1>test page</h1></body></html>"
    )


async def serve_page(page: Page, path: str, html: str) -> None:
    """Answer ``path`` on the relay's origin with ``html`` (the page and the relay share the origin,
    as in the sandbox demo)."""
    await page.route(f"**{path}", lambda route: route.fulfill(body=html, content_type="text/html"))


async def check_out(page: Page) -> str:
    """From a demo-shop product page: add to cart, check out as Jane; the order id on the thanks page."""
    await page.click("#add-to-cart button")
    await page.fill("input[name=email]", "Jane.Doe@Example.com")
    await page.fill("input[name=first_name]", "Jane")
    await page.click("#checkout-form button")
    await page.wait_for_url("**/thanks?order=*")
    return (await page.text_content("#order-id")) or ""


async def relay_events(page: Page) -> list[dict[str, str]]:
    """What the snippet exposed through ``relay:event``: ``{event_name, event_id}`` in order."""
    events: list[dict[str, str]] = await page.evaluate("window.__relayEvents")
    return events


async def beacons(page: Page) -> list[dict[str, Any]]:
    """Every ``navigator.sendBeacon`` call of this tab on this origin: ``{url, body, ok}``."""
    log: list[dict[str, Any]] = await page.evaluate("JSON.parse(sessionStorage.getItem('__beacons') || '[]')")
    return log


@contextlib.asynccontextmanager
async def admin_page(browser: Browser, token: str | None = None) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of a fresh browser context at the dashboard's desktop size (closed afterwards), and the
    messages of what the pages' Content-Security-Policy blocked (nothing of their own should be). With
    ``token`` every request carries it as the admin bearer token: no sign-in."""
    headers = {"authorization": f"Bearer {token}"} if token else None
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield page, blocked
    finally:
        await context.close()


async def sign_in(page: Page, url: str, token: str = ADMIN_TOKEN) -> None:
    """Open ``url``, an admin page, which answers the sign-in form, and submit ``token`` in it."""
    response: Response | None = await page.goto(url)
    assert response is not None and response.status == 401  # the sign-in form
    await submit_token(page, token)


async def submit_token(page: Page, token: str = ADMIN_TOKEN) -> None:
    """Sign in through the form the page shows."""
    await page.fill("#token", token)
    await page.click("button[type=submit]")
