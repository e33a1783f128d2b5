"""``/pixel.js`` in headless Chromium against a real relay: cookies, click ids, consent from a CMP,
the command queue, single-page navigations, sendBeacon on unload, retries, and the demo shop."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route

from relay.consent import decode_tc_string
from relay.http.browser import SNIPPET
from tests.browser.conftest import (
    TIMEOUT,
    bare_page,
    beacons,
    check_out,
    open_context,
    relay_events,
    serve_page,
)
from tests.e2e.harness import Relay

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

SHOP = "/sandbox/shop"
ACCEPT_TC = "CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A"
FBP = re.compile(r"fb\.1\.\d{13}\.\d{10}")
#: a wait_for_function body: has the event with this id been handed over?
SENT = "(id) => window.__relaySent.some((s) => s.ids.includes(id))"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def meta_events(relay: Relay) -> dict[str, dict[str, Any]]:
    """What the sandbox's fake Meta accepted, by event id."""
    return {e["event_id"]: e for e in relay.fake("meta").events}


async def wait_meta(relay: Relay, ids: list[str]) -> dict[str, dict[str, Any]]:
    await relay.wait_for(lambda: set(ids) <= set(meta_events(relay)), TIMEOUT, f"{ids} at fake Meta")
    return meta_events(relay)


async def first_answer(page: Page) -> None:
    """Wait until the snippet handed an event over (the first hit's answer arrived)."""
    await page.wait_for_function("window.__relaySent.length > 0")


async def test_shop_journey_arrives_with_first_party_cookies(browser: Browser, relay: Relay) -> None:
    context, wire = await open_context(browser, relay, consent="accept")
    page = await context.new_page()
    await page.goto(f"{SHOP}/?fbclid=FbClick.123&twclid=tw-click-456&ttclid=E.C.P.tt-789")
    await first_answer(page)

    cookies = {c["name"]: c for c in await context.cookies()}
    assert set(cookies) == {"_rl_id", "_fbp", "_fbc", "_twclid", "_ttclid"}
    assert all(c["secure"] and c["sameSite"] == "Lax" and c["path"] == "/" for c in cookies.values())
    assert cookies["_rl_id"]["httpOnly"]
    assert FBP.fullmatch(cookies["_fbp"]["value"])
    assert re.fullmatch(r"fb\.1\.\d{13}\.FbClick\.123", cookies["_fbc"]["value"])
    assert cookies["_twclid"]["value"] == "tw-click-456" and cookies["_ttclid"]["value"] == "E.C.P.tt-789"

    await page.click(f"a.card[href='{SHOP}/product/mug']")
    await page.select_option("select[name=qty]", "2")
    order = await check_out(page)
    await first_answer(page)

    # home PageView; product PageView + ViewContent; AddToCart; checkout PageView + InitiateCheckout;
    # Purchase; thanks PageView
    await relay.wait_for(lambda: len(relay.fake("meta").events) >= 8, TIMEOUT, "8 events at fake Meta")
    delivered = meta_events(relay)
    assert len(delivered) == 8
    assert await relay.wait_status(order, "meta", "delivered")
    for event in delivered.values():  # the ids set by the first answer ride on every hit
        assert event["user_data"]["fbp"] == cookies["_fbp"]["value"]
        assert event["user_data"]["fbc"] == cookies["_fbc"]["value"]
    purchase = delivered[order]
    assert purchase["event_name"] == "Purchase"
    assert purchase["custom_data"]["value"] == 28.0 and purchase["custom_data"]["order_id"] == order
    assert purchase["user_data"]["em"] == [sha256("jane.doe@example.com")]

    # the first hit of the visit went alone by fetch and was waited for; every later one by sendBeacon
    [first] = [hit for hit in wire.hits if hit.resource_type == "fetch"]
    assert first.content_type.startswith("text/plain") and len(first.events) == 1
    beaconed = [e for b in await beacons(page) for e in b["body"]["events"]]
    assert sorted(first.event_ids + [e["event_id"] for e in beaconed]) == sorted(delivered)
    # identify data travels only in POST bodies: never in a URL, a cookie or web storage
    assert [e["user"]["email"] for e in beaconed if "user" in e] == ["Jane.Doe@Example.com"]
    assert not [u for u in wire.urls if "jane" in u.lower()]
    stored = await page.evaluate(
        """() => document.cookie + JSON.stringify(localStorage) + Object.keys(sessionStorage)
              .filter((key) => key !== '__beacons').map((key) => sessionStorage[key]).join()"""
    )  # (__beacons is this test's own log of the bodies)
    assert "jane" not in stored.lower()
    await context.close()


@pytest.mark.parametrize("choice", ["accept", "reject"])
async def test_events_wait_for_the_cmp_and_follow_its_choice(
    browser: Browser, relay: Relay, choice: str
) -> None:
    context, wire = await open_context(browser, relay, consent=None, config={"cmpTimeout": TIMEOUT * 1000})
    page = await context.new_page()
    await page.goto(f"{SHOP}/product/tee")
    await page.wait_for_function("window.__relayEvents.length === 2")
    assert await page.is_visible("#cmp-banner")
    assert wire.hits == []  # the banner is up: events are queued, not sent, not lost
    ids = [e["event_id"] for e in await relay_events(page)]

    await page.click(f"#cmp-{choice}")
    await first_answer(page)
    status = "delivered" if choice == "accept" else "skipped"
    for event_id in ids:
        delivery = await relay.wait_status(event_id, "meta", status)
        assert delivery["consent"]["decision"] == ("allow" if choice == "accept" else "deny")
    consent = wire.hits[0].events[0]["consent"]
    assert consent["gdpr_applies"] is True
    assert set(consent["gcm"].values()) == {"granted" if choice == "accept" else "denied"}
    tc = decode_tc_string(consent["tcf"])
    assert tc.valid and tc.tcf_policy_version >= 4
    cookies = {c["name"] for c in await context.cookies()}
    if choice == "accept":
        assert consent["tcf"] == ACCEPT_TC
        assert {"_rl_id", "_fbp"} <= cookies
        assert set(ids) <= set(meta_events(relay))
    else:
        assert tc.purpose_consents == frozenset()
        assert cookies == set()
        assert meta_events(relay) == {}
    await context.close()


async def test_calls_queued_before_the_script_loads_are_sent(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await asyncio.wait_for(release.wait(), TIMEOUT)
        await route.continue_()

    await page.route("**/pixel.js", hold)
    await page.goto(f"{SHOP}/thanks", wait_until="domcontentloaded")
    queued = await page.evaluate(
        """() => [
          relay('identify', {external_id: 'Cust-42', email: 'queued@example.com'}),
          relay('track', 'Lead', {value: 5, currency: 'EUR'},
                {eventID: 'lead-1', callback: function (id) { window.__lead = id; }}),
          relay('track', 'Contact', {}, null, function (id) { window.__contact = id; }),
          relay.q.length,
        ]"""
    )
    assert queued == [None, None, None, 3]  # the stub queues and cannot answer yet
    release.set()
    await page.wait_for_function("window.__lead && window.__contact")
    lead, contact = await page.evaluate("[window.__lead, window.__contact]")
    assert lead == "lead-1" and UUID.fullmatch(contact)

    delivered = await wait_meta(relay, [lead, contact])
    assert delivered[lead]["event_name"] == "Lead" and delivered[contact]["event_name"] == "Contact"
    assert delivered[lead]["user_data"]["external_id"] in ([sha256("cust-42")], sha256("cust-42"))
    assert delivered[lead]["user_data"]["em"] == [sha256("queued@example.com")]
    assert delivered[lead]["custom_data"]["value"] == 5
    await context.close()


async def test_history_navigations_are_page_views(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    await page.goto(f"{SHOP}/")
    await first_answer(page)
    home = page.url
    await page.click("button[data-filter=apparel]")
    await page.wait_for_url("**/?category=apparel")
    apparel = page.url
    assert await page.locator(".card:visible").count() == 2
    await page.evaluate("history.replaceState({}, '', location.href)")  # same URL: not a new page
    await page.go_back()  # popstate
    await page.wait_for_function("window.__relayEvents.length >= 3")

    events = await relay_events(page)
    assert [e["event_name"] for e in events] == ["PageView"] * 3
    delivered = await wait_meta(relay, [e["event_id"] for e in events])
    views = [delivered[e["event_id"]] for e in events]
    assert [v["event_source_url"] for v in views] == [home, apparel, home]
    assert [v.get("referrer_url") for v in views[1:]] == [home, apparel]
    await context.close()


async def test_queued_events_leave_with_sendbeacon_on_unload(browser: Browser, relay: Relay) -> None:
    # a CMP that never answers holds every event in the snippet's queue (for up to 30 s)
    context, wire = await open_context(browser, relay, consent=None, config={"cmpTimeout": 30000})
    page = await context.new_page()
    await serve_page(page, "/landing", bare_page(head="<script>window.__tcfapi = function () {};</script>"))
    await serve_page(page, "/elsewhere", "<!doctype html><title>elsewhere</title><p>another page</p>")
    await page.goto("/landing")
    await page.wait_for_function("window.__relayEvents.length === 1")
    lead = await page.evaluate("relay('track', 'Lead', {value: 9, currency: 'EUR'})")
    [view] = [e["event_id"] for e in await relay_events(page)][:1]
    assert wire.hits == []

    await page.goto("/elsewhere")  # pagehide
    await relay.wait_status(lead, "meta", "delivered")
    await relay.wait_status(view, "meta", "delivered")
    [beacon] = await beacons(page)
    assert beacon["url"] == f"{relay.base}/v1/collect" and beacon["ok"] is True
    assert [e["event_id"] for e in beacon["body"]["events"]] == [view, lead]  # batched, left together
    await context.close()


async def test_exposed_event_id_is_the_one_delivered(browser: Browser, relay: Relay) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    await page.goto(f"{SHOP}/thanks")
    await first_answer(page)
    ids = await page.evaluate(
        """() => {
          var seen = null;
          var id = relay('track', 'Purchase', {value: 42.5, currency: 'EUR'}, function (x) { seen = x; });
          var fixed = relay('track', 'Purchase', {value: 10, currency: 'EUR'}, {eventID: 'order-1001'});
          var exposed = window.__relayEvents.slice(-2).map(function (e) { return e.event_id; });
          return {id: id, seen: seen, fixed: fixed, exposed: exposed};
        }"""
    )
    assert UUID.fullmatch(ids["id"]) and ids["seen"] == ids["id"]
    assert ids["fixed"] == "order-1001" and ids["exposed"] == [ids["id"], "order-1001"]
    delivered = await wait_meta(relay, [ids["id"], "order-1001"])
    assert delivered[ids["id"]]["event_name"] == "Purchase"
    assert delivered[ids["id"]]["custom_data"]["value"] == 42.5
    assert delivered["order-1001"]["custom_data"]["value"] == 10
    await context.close()


GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
CMP_STUBS = """
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag() { dataLayer.push(arguments); }
  gtag('consent', 'default', {ad_storage: 'granted', ad_user_data: 'granted',
                              ad_personalization: 'granted', analytics_storage: 'granted'});
  gtag('consent', 'default', {ad_storage: 'denied', region: ['FR', 'DE']});
  gtag('consent', 'update', {analytics_storage: 'denied'});
  window.__tcfapi = function (command, version, callback) {
    if (command !== 'addEventListener') return;
    setTimeout(function () {  // a CMP that answers late: the snippet waits for it
      callback({tcString: TC, gdprApplies: true, eventStatus: 'tcloaded', listenerId: 1}, true);
    }, 200);
  };
  window.__gpp = function (command, callback) {
    if (command !== 'addEventListener') return;
    var ping = {gppVersion: '1.1', cmpStatus: 'loaded', signalStatus: 'ready', gppString: GPP,
                applicableSections: [7]};
    callback({eventName: 'signalStatus', listenerId: 1, data: 'ready', pingData: ping}, true);
  };
  window.__uspapi = function (command, version, callback) {
    callback({version: 1, uspString: '1YNN'}, true);
  };
</script>
"""


async def test_consent_signals_are_read_from_the_page(
    browser: Browser, relay: Relay, vectors_dir: Path
) -> None:
    vectors = json.loads((vectors_dir / "gpp_usp_public.json").read_text())
    gpp = next(v["gpp_string"] for v in vectors["gpp_valid"] if v["expected"]["section_ids"] == [7])
    context, wire = await open_context(browser, relay, config={"cmpTimeout": TIMEOUT * 1000})
    await context.add_init_script(GPC_ON)
    page = await context.new_page()
    stubs = CMP_STUBS.replace("TC,", json.dumps(ACCEPT_TC) + ",").replace("GPP,", json.dumps(gpp) + ",")
    await serve_page(page, "/landing", bare_page(head=stubs))
    await page.goto("/landing")
    await first_answer(page)
    assert wire.hits[0].events[0]["consent"] == {
        "tcf": ACCEPT_TC,
        "gdpr_applies": True,
        "gpp": gpp,
        "gpp_sid": [7],
        "usp": "1YNN",
        # a region-scoped default can't be matched in the page: only its denials count
        "gcm": {
            "ad_storage": "denied",
            "ad_user_data": "granted",
            "ad_personalization": "granted",
            "analytics_storage": "denied",
        },
        "gpc": True,
    }

    lead = await page.evaluate(
        """() => {
          gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'denied'});
          return relay('track', 'Lead');
        }"""
    )
    await page.wait_for_function(SENT, arg=lead)
    contact = await page.evaluate(
        "relay('consent', {usp: '1YYN', gcm: {ad_storage: 'denied'}, gpp: null}), relay('track', 'Contact')"
    )
    await page.wait_for_function(SENT, arg=contact)

    def recorded() -> dict[str, Any]:
        seen = {e["event_id"]: e["consent"] for hit in wire.hits for e in hit.events}
        return seen if lead in seen and contact in seen else {}

    # the page marks an event sent when its answer arrives; the wire records the request on its own
    # task, so wait for both requests to be on record rather than assume it already is
    consent = await relay.wait_for(recorded, TIMEOUT, "both events on the wire")
    assert consent[lead]["gcm"] == {
        "ad_storage": "granted",
        "ad_user_data": "denied",
        "ad_personalization": "granted",
        "analytics_storage": "denied",
    }
    # manual values replace what the page says; null removes a signal
    assert consent[contact]["usp"] == "1YYN" and consent[contact]["gcm"] == {"ad_storage": "denied"}
    assert "gpp" not in consent[contact] and consent[contact]["tcf"] == ACCEPT_TC
    for event_id in (lead, contact):  # the relay accepted them and decided
        assert await relay.wait_for(lambda i=event_id: relay.deliveries(event_id=i), TIMEOUT, event_id)
    await context.close()


async def test_failed_sends_are_retried_a_bounded_number_of_times(browser: Browser, relay: Relay) -> None:
    context, wire = await open_context(browser, relay, config={"retryDelay": 50})
    page = await context.new_page()
    await serve_page(page, "/landing", bare_page())
    attempts = 0

    async def flaky(route: Route) -> None:
        nonlocal attempts
        attempts += 1
        await (route.abort() if attempts <= 2 else route.continue_())

    await page.route("**/v1/collect", flaky)
    await page.goto("/landing")
    await page.wait_for_function("window.__relayEvents.length === 1")
    [view] = [e["event_id"] for e in await relay_events(page)]
    await relay.wait_status(view, "meta", "delivered")
    assert attempts == 3
    assert [h.event_ids for h in wire.hits] == [[view]] * 3  # the same event, same id, re-sent
    await context.close()


#: counts the page's fetches to /v1/collect where they start: when each began, and how many were open at once
COUNT_FETCHES = """
window.__fetches = {starts: [], open: 0, most: 0};
(function () {
  var fetch = window.fetch, seen = window.__fetches;
  window.fetch = function (url) {
    if (!String(url).endsWith('/v1/collect')) return fetch.apply(this, arguments);
    seen.starts.push(performance.now());
    seen.most = Math.max(seen.most, ++seen.open);
    return fetch.apply(this, arguments).finally(function () { seen.open--; });
  };
})();
"""


async def test_a_relay_that_is_down_gets_no_retry_storm(browser: Browser, relay: Relay) -> None:
    retry_delay = 10  # ms; the backoff doubles from here
    context, wire = await open_context(browser, relay, config={"retryDelay": retry_delay})
    await context.add_init_script(COUNT_FETCHES)
    page = await context.new_page()
    await serve_page(page, "/landing", bare_page())
    refused = 0

    async def down_then_up(route: Route) -> None:  # the relay is down for six requests, then back
        nonlocal refused
        if refused < 6:
            refused += 1
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/v1/collect", down_then_up)
    await page.goto("/landing")
    leads = await page.evaluate("Array.from({length: 20}, (_, i) => relay('track', 'Lead', {n: i}))")
    for lead in leads:  # what was still queued arrives once the relay is back
        await relay.wait_status(lead, "meta", "delivered", timeout=TIMEOUT)
    [view] = [e["event_id"] for e in await relay_events(page) if e["event_name"] == "PageView"]

    # the exact sequence, not a count in a time window: one event per request while the relay fails,
    # the page view 4 tries then dropped, the first lead refused twice then sent, then the rest at once
    sent = [h.event_ids for h in wire.hits]
    assert sent[:7] == [[view]] * 4 + [[leads[0]]] * 3
    assert sorted(i for ids in sent[7:] for i in ids) == sorted(leads[1:])
    assert await relay.deliveries(event_id=view) == []
    # one request at a time, each retry later than the one before: 21 events never became 84 requests
    fetches = await page.evaluate("window.__fetches")
    assert fetches["most"] == 1 and len(fetches["starts"]) == 7
    gaps = [b - a for a, b in zip(fetches["starts"], fetches["starts"][1:], strict=False)]
    for n, gap in enumerate(gaps):  # the n-th wait is retryDelay * 2^n, jittered down to half of it
        assert gap >= retry_delay * 2**n / 2 - 1, gaps
    await context.close()


ANALYSE_PNG = """async (data) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + data;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, img.width, img.height).data;
  const colours = new Set();
  let inked = 0, n = 0;
  for (let i = 0; i < px.length; i += 4 * 7) {
    n++;
    colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    if (px[i] + px[i + 1] + px[i + 2] < 600) inked++;
  }
  return {width: img.width, height: img.height, colours: colours.size, inked: inked / n};
}"""


async def test_demo_shop_screenshot_shows_the_page(browser: Browser, relay: Relay, tmp_path: Path) -> None:
    context, _ = await open_context(browser, relay)
    page = await context.new_page()
    await page.goto(f"{SHOP}/")
    await page.wait_for_selector("#event-list li.sent")
    [view] = await relay_events(page)
    assert await page.text_content("#event-list .event-id") == view["event_id"]
    assert await page.locator("#products .card").count() == 5
    png = await page.screenshot()
    (tmp_path / "shop.png").write_bytes(png)
    stats = await page.evaluate(ANALYSE_PNG, base64.b64encode(png).decode())
    assert (stats["width"], stats["height"]) == (1280, 800)
    assert stats["colours"] > 50  # text, product tiles, panel: not a blank or single-colour page
    assert 0.03 < stats["inked"] < 0.9
    await relay.wait_status(view["event_id"], "meta", "delivered")
    await context.close()


async def test_data_attributes_configure_the_snippet(browser: Browser, relay: Relay) -> None:
    context, wire = await open_context(browser, relay)
    page = await context.new_page()
    attributes = f"data-endpoint='{relay.base}/' data-auto-page-view='false' data-cmp-timeout='0'"
    await serve_page(page, "/landing", bare_page(attributes=attributes))
    await page.goto("/landing")
    await page.wait_for_function("window.relay && window.relay.loaded")
    lead = await page.evaluate("relay('track', 'Lead', {value: 3, currency: 'EUR'})")
    await relay.wait_status(lead, "meta", "delivered")
    assert [e["event_name"] for e in await relay_events(page)] == ["Lead"]  # no automatic PageView
    assert [h.event_ids for h in wire.hits] == [[lead]]
    await context.close()


async def test_snippet_is_served_as_is_and_small(relay: Relay) -> None:
    response = await relay.client.get(f"{relay.base}/pixel.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.content == SNIPPET.read_bytes()
    assert len(gzip.compress(response.content, compresslevel=9)) < 4096


async def test_shop_pages_escape_what_the_url_carries(relay: Relay) -> None:
    nasty = "{{data}}</script><img src=x onerror=alert(1)>"
    response = await relay.client.get(f"{relay.base}{SHOP}/thanks", params={"order": nasty})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<img src=x" not in response.text and "</script><img" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    for path in ("/", "/?category=kitchen", "/product/mug", "/checkout?product=tee&qty=3", "/checkout"):
        assert (await relay.client.get(f"{relay.base}{SHOP}{path}")).status_code == 200
    assert (await relay.client.get(f"{relay.base}{SHOP}/product/nope")).status_code == 404
    assert (await relay.client.get(f"{relay.base}{SHOP}/static/cmp.js")).status_code == 200
