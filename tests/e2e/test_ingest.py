"""Every ingest endpoint over real HTTP: answers, limits, CORS, cookies, click ids, proxies, dedup."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import API_KEY, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ORIGIN = "https://shop.example"
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126"


def browser_event(event_id: str, **extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_name": "ViewContent",
        "event_id": event_id,
        "event_source_url": "https://shop.example/product/1",
        "custom": {"content_ids": ["sku-1"]},
    }
    event.update(extra)
    return event


async def collect(relay: object, body: object, **kw: object) -> httpx.Response:
    headers = {"origin": ORIGIN, "user-agent": UA, **kw.pop("headers", {})}  # type: ignore[dict-item]
    if cookies := kw.pop("cookies", None):
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())  # type: ignore[attr-defined]
    return await relay.client.post(f"{relay.base}/v1/collect", json=body, headers=headers, **kw)  # type: ignore[attr-defined]


async def test_collect_answers_per_event_and_validates(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        ok = await collect(
            relay, {"events": [browser_event("v1"), {"event_name": "X", "user": {"emial": "a"}}]}
        )
        assert ok.status_code == 202
        assert ok.json() == {"accepted": 1, "rejected": [{"index": 1, "error": "user.emial: unknown key"}]}
        assert ok.headers["access-control-allow-origin"] == ORIGIN
        assert ok.headers["access-control-allow-credentials"] == "true"
        bad = await collect(relay, [1, 2])
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_event"
        allbad = await collect(relay, {"events": [{"event_name": ""}, {"nope": 1}]})
        assert allbad.status_code == 400
        assert allbad.json()["error"] == "invalid_event" and allbad.json()["accepted"] == 0
        assert [r["index"] for r in allbad.json()["rejected"]] == [0, 1]
        not_json = await relay.client.post(
            f"{relay.base}/v1/collect", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_json"
        many = await collect(relay, {"events": [browser_event(str(i)) for i in range(101)]})
        assert many.status_code == 400 and many.json()["error"] == "too_many_events"
        big = await relay.client.post(
            f"{relay.base}/v1/collect", content=b" " * 70000, headers={"content-type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["error"] == "payload_too_large"
        xml = await relay.client.post(
            f"{relay.base}/v1/collect", content=b"<a/>", headers={"content-type": "application/xml"}
        )
        assert xml.status_code == 415 and xml.json()["error"] == "unsupported_media_type"
        beacon = await relay.client.post(
            f"{relay.base}/v1/collect",
            content=b'{"event_name": "PageView", "event_id": "b1"}',
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
        assert beacon.status_code == 202 and beacon.json()["accepted"] == 1
        old = await collect(relay, browser_event("old", event_time=1_000_000_000))
        assert old.status_code == 400 and "older than 7 days" in old.json()["rejected"][0]["error"]
        future = await collect(relay, browser_event("f", event_time="2999-01-01T00:00:00Z"))
        assert "in the future" in future.json()["rejected"][0]["error"]


async def test_cors_is_limited_to_allowed_origins(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        pre = await relay.client.options(
            f"{relay.base}/v1/collect",
            headers={
                "origin": ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == ORIGIN
        assert pre.headers["access-control-allow-credentials"] == "true"
        assert "POST" in pre.headers["access-control-allow-methods"]
        evil = await relay.client.options(
            f"{relay.base}/v1/collect", headers={"origin": "https://evil.example"}
        )
        assert evil.status_code == 403 and evil.json()["error"] == "origin_not_allowed"
        refused = await collect(relay, browser_event("e1"), headers={"origin": "https://shop.example:8443"})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        no_origin = await relay.client.post(f"{relay.base}/v1/collect", json=browser_event("e2"))
        assert no_origin.status_code == 202 and "access-control-allow-origin" not in no_origin.headers


def cookies_of(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_first_party_cookies_and_click_ids(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        landing = (
            "https://shop.example/?fbclid=IwAR2F4-dbP0l7Mn1&twclid=23opevjt88psuo13lu8d020qkn&ttclid=E.C.P.x"
        )
        first = await collect(relay, browser_event("c1", event_source_url=landing))
        set_cookies = cookies_of(first)
        assert set(set_cookies) == {"_rl_id", "_fbp", "_fbc", "_twclid", "_ttclid"}
        for header in set_cookies.values():
            assert (
                "Path=/" in header and "Secure" in header and "SameSite=lax" in header.replace("Lax", "lax")
            )
        assert "HttpOnly" in set_cookies["_rl_id"] and "HttpOnly" not in set_cookies["_fbp"]
        fbp = re.search(r"_fbp=(fb\.1\.\d{13}\.\d+);", set_cookies["_fbp"])
        fbc = re.search(r"_fbc=(fb\.1\.\d{13}\.IwAR2F4-dbP0l7Mn1);", set_cookies["_fbc"])
        assert fbp and fbc
        jar = {
            m.split("=", 1)[0]: m.split("=", 1)[1].split(";")[0] for m in first.headers.get_list("set-cookie")
        }
        # a later hit with the same fbclid keeps the cookie (and its landing time); nothing is set again
        again = await collect(relay, browser_event("c2", event_source_url=landing), cookies=jar)
        assert cookies_of(again) == {}
        trace = (await relay.admin("events/c2")).json()["events"][0]
        assert {"fbp", "fbc", "twclid", "ttclid"} <= set(trace["identifiers"])
        assert "_rl_id" not in trace["identifiers"]  # the visitor id is the relay's own, never sent on
        # the first hit already carries the _fbp its own answer set
        assert "fbp" in (await relay.admin("events/c1")).json()["events"][0]["identifiers"]
        # a new click replaces _fbc
        newer = await collect(
            relay, browser_event("c3", event_source_url="https://shop.example/?fbclid=NEW"), cookies=jar
        )
        assert set(cookies_of(newer)) == {"_fbc"}


@pytest.mark.parametrize(
    "extra",
    [
        {"user": {"fbp": "fb.1.1596403881668.\u20ac"}},  # an event's own fbp that no cookie can hold
        {"event_source_url": "https://shop.example/?twclid=%E2%82%AC"},  # a click id outside Latin-1
        {"event_source_url": "https://shop.example/?gclid=caf%C3%A9&fbclid=a%20b"},
    ],
)
async def test_an_id_no_cookie_can_hold_stays_with_its_event(
    tmp_path: Path, extra: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """Such an id is kept by the event and set in no cookie: the batch is answered 202 (it was answered
    500 after it was stored, the Set-Cookie header failing to encode), and the pixel still answers a GIF."""
    async with run_relay(tmp_path, run_worker=False) as relay:
        body = {"events": [browser_event("k-good"), browser_event("k-odd", **extra)]}
        response = await collect(relay, body)
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": 2, "rejected": []}
        for header in response.headers.get_list("set-cookie"):
            assert header.isascii() and "\u20ac" not in header
        url = str(extra.get("event_source_url", "https://shop.example/"))
        gif = await relay.client.get(f"{relay.base}/p.gif", params={"ev": "PageView", "url": url})
        assert gif.status_code == 200 and gif.content.startswith(b"GIF89a")
        assert {d["event_id"] for d in await relay.deliveries()} >= {"k-good", "k-odd"}
    assert "could not be processed" not in caplog.text and "Traceback" not in caplog.text


GOOD = (
    '{"event_name":"Purchase","event_id":"j-good","event_source_url":"https://shop.example/",'
    '"custom":{"value":1,"currency":"EUR"}}'
)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ('"custom":{"note":"a\\ud800b"}', "custom.note: contains an unpaired surrogate"),
        ('"custom":{"x":1e400}', "custom.x: must be a finite number"),
        ('"custom":{"order_id":123456789012345678901234567}', "custom.order_id: integer out of the 64-bit"),
        ('"custom":{"content_ids":[18446744073709551617]}', "custom.content_ids[0]: integer out of the 64"),
        ('"event_time":1e400', "event_time: must be Unix seconds"),
        ('"user":{"phone":123456789012345678901234567}', "user.phone: must be a string"),
    ],
)
async def test_a_value_json_parsers_trip_on_costs_its_event_only(
    tmp_path: Path, bad: str, error: str
) -> None:
    """A lone surrogate escape, a number past a double, an integer past 64 bits: JSON all the same, so the
    body is read (not 400 invalid_json for everybody in it) and the event holding it is refused alone,
    with the reason; no integer is silently turned into another."""
    body = '{"events":[' + GOOD + ',{"event_name":"PageView","event_id":"j-bad",' + bad + "}]}"
    async with run_relay(tmp_path, run_worker=False) as relay:
        answer = await relay.post_events(
            None, content=body.encode(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 1
        [rejected] = answer.json()["rejected"]
        assert rejected["index"] == 1 and rejected["error"].startswith(error), rejected
        assert {d["event_id"] for d in await relay.deliveries()} == {"j-good"}
        kept = (
            '{"event_name":"PageView","event_id":"j-int",'
            '"custom":{"big":9223372036854775807,"low":-9223372036854775808,"id":"' + "1" * 30 + '"}}'
        )
        exact = await relay.post_events(None, content=kept.encode())
        assert exact.json() == {"accepted": 1, "rejected": []}  # within 64 bits, both ends: kept as they are
        with relay.state.db.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT custom FROM events WHERE event_id = 'j-int'").scalar_one()
        assert json.loads(stored)["big"] == 2**63 - 1 and json.loads(stored)["low"] == -(2**63)


async def test_no_cookies_and_no_ids_without_storage_consent(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        denied = {"gcm": {"ad_storage": "denied", "ad_user_data": "denied"}}
        landing = "https://shop.example/?fbclid=IwAR-no"
        response = await collect(relay, browser_event("n1", event_source_url=landing, consent=denied))
        assert response.status_code == 202
        assert cookies_of(response) == {}


async def test_cookie_domain_is_used_when_configured(tmp_path: Path) -> None:
    async with run_relay(tmp_path, server={"cookie_domain": "shop.example"}) as relay:
        response = await collect(relay, browser_event("d1"))
        assert all("Domain=shop.example" in h for h in cookies_of(response).values())


async def test_client_ip_through_trusted_proxies_only(tmp_path: Path) -> None:
    forwarded = {"x-forwarded-for": "198.51.100.7, 127.0.0.1"}
    async with run_relay(tmp_path) as relay:
        await collect(relay, purchase("ip-1", user={"email": "a@b.co"}), headers=forwarded)
        await relay.wait_status("ip-1", "meta", "delivered")
        [sent] = relay.fake("meta").events
        assert sent["user_data"]["client_ip_address"] == "198.51.100.7"
        assert sent["user_data"]["client_user_agent"] == UA
    async with run_relay(tmp_path / "untrusted", server={"trusted_proxies": []}) as relay:
        await collect(relay, purchase("ip-2", user={"email": "a@b.co"}), headers=forwarded)
        await relay.wait_status("ip-2", "meta", "delivered")
        assert relay.fake("meta").events[0]["user_data"]["client_ip_address"] == "127.0.0.1"


async def test_pixel_gif_always_answers_a_gif(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        gif = await relay.client.get(
            f"{relay.base}/p.gif",
            params={
                "ev": "Purchase",
                "eid": "g1",
                "url": "https://shop.example/done",
                "value": "9.5",
                "currency": "EUR",
                "order_id": "o-9",
                "ids": "a,b",
                "xid": "cust-1",
                "gcs": "G111",
            },
            headers={"user-agent": UA},
        )
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert gif.content.startswith(b"GIF89a") and "no-store" in gif.headers["cache-control"]
        [stored] = (await relay.admin("events/g1")).json()["events"]
        assert stored["source"] == "gif" and "external_id" in stored["identifiers"]
        for params in (
            {"ev": "Lead", "email": "jane@x.com"},
            {},
            {"ev": "x" * 300},
            {"ev": "A", "value": "nan"},
        ):
            answer = await relay.client.get(f"{relay.base}/p.gif", params=params)
            assert answer.status_code == 200 and answer.content.startswith(b"GIF89a")
        metrics = (await relay.client.get(f"{relay.base}/metrics")).text
        assert 'relay_events_received_total{endpoint="gif"} 1.0' in metrics
        assert re.search(r'relay_events_rejected_total\{reason="invalid_event"\} [3-9]', metrics)


async def test_server_events_need_the_api_key_and_take_ip_from_the_body(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        denied = await relay.client.post(f"{relay.base}/v1/events", json=purchase("s0"))
        assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
        wrong = await relay.client.post(
            f"{relay.base}/v1/events", json=purchase("s0"), headers={"authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        ok = await relay.post_events(
            {"events": [purchase("s1")]}, headers={"x-forwarded-for": "198.51.100.1"}
        )
        assert ok.status_code == 202
        await relay.wait_status("s1", "meta", "delivered")
        assert relay.fake("meta").events[0]["user_data"]["client_ip_address"] == "203.0.113.9"
        assert API_KEY not in (await relay.client.get(f"{relay.base}/metrics")).text


async def test_server_and_browser_copies_merge_into_one_event(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        server_copy = purchase("order-77")
        server_copy["user"] = {"email": "jane@example.com", "ip": "203.0.113.9", "user_agent": UA}
        assert (await relay.post_events(server_copy)).status_code == 202
        browser_copy = {
            "event_name": "Purchase",
            "event_id": "order-77",
            "event_source_url": "https://shop.example/done",
        }
        response = await collect(relay, browser_copy, cookies={"_fbp": "fb.1.1596403881668.1116446470"})
        assert response.json()["accepted"] == 1
        [stored] = (await relay.admin("events/order-77")).json()["events"]
        assert {"em", "fbp"} <= set(stored["identifiers"])
        assert len(await relay.deliveries(event_id="order-77")) == 1  # one delivery, not two


async def test_gpc_header_and_region_headers(tmp_path: Path) -> None:
    server = {"country_header": "CF-IPCountry", "region_header": "CF-Region-Code"}
    async with run_relay(tmp_path, run_worker=False, server=server) as relay:
        await collect(
            relay,
            browser_event("gpc-1"),
            headers={"sec-gpc": "1", "cf-ipcountry": "US", "cf-region-code": "CA"},
        )
        [d] = await relay.deliveries(event_id="gpc-1")
        assert d["consent"]["decision"] == "limited" and d["consent"]["mode"] == "ldu"
        assert "gpc" in d["consent"]["reason"]
        await collect(relay, browser_event("eu-1"), headers={"cf-ipcountry": "DE"})
        [eu] = await relay.deliveries(event_id="eu-1")
        assert (
            eu["status"] == "skipped"
            and eu["consent"]["decision"] == "deny"
            and "eu" in eu["consent"]["reason"]
        )
        [trace] = (await relay.admin("events/eu-1")).json()["events"]
        assert trace["identifiers"] == []  # no connector may receive it: no ids stored


async def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        assert (await relay.client.get(f"{relay.base}/healthz")).json() == {"status": "ok"}
        assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
        await relay.post_events(purchase("m1"))
        await relay.wait_status("m1", "meta", "delivered")
        text = (await relay.client.get(f"{relay.base}/metrics")).text
        for name in (
            "relay_events_received_total",
            "relay_consent_decisions_total",
            "relay_deliveries_total",
            "relay_delivery_attempts_total",
            "relay_delivery_latency_seconds_bucket",
            "relay_outbox_pending",
        ):
            assert name in text
        assert 'relay_delivery_attempts_total{connector="meta",outcome="delivered"} 1.0' in text
        assert 'relay_deliveries_total{connector="meta",status="delivered"} 1.0' in text


async def test_minimal_server_event_is_delivered(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        minimal = {"event_name": "Lead", "event_id": "min-1", "user": {"email": "jane@example.com"}}
        assert (await relay.post_events(minimal)).status_code == 202
        await relay.wait_status("min-1", "meta", "delivered")
        [sent] = relay.fake("meta").events
        assert sent["action_source"] == "other" and "event_source_url" not in sent
        website = {"event_name": "Lead", "event_id": "min-2", "event_source_url": "https://shop.example/"}
        await relay.post_events({**website, "user": {"email": "jane@example.com"}})
        dead = await relay.wait_status("min-2", "meta", "dead")  # Meta needs a user agent for website events
        assert "client_user_agent" in dead["last_error"]


def deep_custom(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"in": value}
    return value


#: one event of each kind that once reached storage or delivery, with the start of its per-event error
BAD_EVENTS: list[tuple[dict[str, object], str]] = [
    (purchase("bad-deep", custom=deep_custom(254)), "custom.in.in.in.in.in: nested deeper than 5 levels"),
    (
        purchase("bad-nul-name", event_name="Pur\x00chase"),
        "event_name: contains a control character (U+0000)",
    ),
    (purchase("bad-nul\x00id"), "event_id: contains a control character (U+0000)"),
    (purchase("bad-nul-url", event_source_url="https://shop.example/\x00"), "event_source_url: contains a"),
    (purchase("bad-log\nINFO forged"), "event_id: contains a control character (U+000A)"),
    (purchase("bad-contents", custom={"contents": 5}), "custom.contents: must be a list of objects"),
    (purchase("bad-time", event_time="²"), "event_time: must be Unix seconds"),
    (purchase("bad-huge-time", event_time=1e308), "event_time: must be Unix seconds"),
    (purchase("bad-bool-time", event_time=True), "event_time: must be Unix seconds"),
    (purchase("bad-emails", user={"email": ["a@b.co"] * 11}), "user.email: at most 10 values"),
    (purchase("bad-keys", custom={f"k{i}": i for i in range(51)}), "custom: more than 50 keys"),
    (purchase("bad-currency", custom={"currency": 978}), "custom.currency: must be a three-letter"),
    (purchase("bad-qty", custom={"contents": [{"id": "a", "quantity": "x"}]}), "custom.contents[0].quantity"),
]


@pytest.mark.parametrize("storage", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_hostile_events_are_rejected_one_by_one_and_the_good_ones_delivered(
    tmp_path: Path, storage: str, request: pytest.FixtureRequest
) -> None:
    overrides = {"storage": {"url": request.getfixturevalue("pg_fresh_url")}} if storage == "postgres" else {}
    good = purchase(
        "mix-ok-1",
        event_source_url="https://shop.example/done?email=jane%40example.com&step=2",
        custom={
            "value": "10",
            "currency": "eur",
            "note": "gift for joe@example.com",
            "contents": [{"id": 7, "quantity": 1, "price": 10}],
        },
    )
    batch = [good, *(bad for bad, _ in BAD_EVENTS), purchase("mix-ok-2")]
    async with run_relay(tmp_path, **overrides) as relay:
        response = await relay.post_events({"events": batch})
        assert response.status_code == 202
        body = response.json()
        assert body["accepted"] == 2
        assert [r["index"] for r in body["rejected"]] == list(range(1, len(BAD_EVENTS) + 1))
        for rejected, (_, message) in zip(body["rejected"], BAD_EVENTS, strict=True):
            assert rejected["error"].startswith(message), rejected
        await relay.wait_status("mix-ok-1", "meta", "delivered")
        await relay.wait_status("mix-ok-2", "meta", "delivered")
        assert len(await relay.deliveries()) == 2  # nothing of the bad events was stored
        sent = {e["event_id"]: e for e in relay.fake("meta").events}
        assert set(sent) == {"mix-ok-1", "mix-ok-2"}
        first = sent["mix-ok-1"]
        assert first["event_source_url"] == "https://shop.example/done?email=[email]&step=2"
        assert first["custom_data"]["note"] == "gift for [email]"
        assert first["custom_data"]["currency"] == "EUR" and first["custom_data"]["value"] == 10.0
        assert first["custom_data"]["contents"] == [{"id": "7", "quantity": 1, "item_price": 10}]
        # every event bad: 400 invalid_event with each one listed
        allbad = await relay.post_events({"events": [bad for bad, _ in BAD_EVENTS[:3]]})
        assert allbad.status_code == 400 and allbad.json()["error"] == "invalid_event"
        assert [r["index"] for r in allbad.json()["rejected"]] == [0, 1, 2]


async def test_pixel_gif_url_is_redacted_before_storage(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        params = {
            "ev": "Purchase",
            "eid": "g-red",
            "url": "https://shop.example/thanks?mail=jane@example.com",
        }
        gif = await relay.client.get(f"{relay.base}/p.gif", params=params, headers={"user-agent": UA})
        assert gif.status_code == 200
        await relay.wait_status("g-red", "meta", "delivered")
        [sent] = relay.fake("meta").events
        assert sent["event_source_url"] == "https://shop.example/thanks?mail=[email]"
        trace = (await relay.admin("events/g-red")).text
        assert "jane@example.com" not in trace


async def test_a_60kb_adversarial_body_costs_milliseconds(tmp_path: Path) -> None:
    """The body that once took 8 s of CPU (and stalled /healthz): e-mails built to make a backtracking
    pattern quadratic, as many as the limits let through, and longer ones that they refuse."""
    hostile = ("a@a." * 64)[: 256 - 1] + " "
    events = [
        {"event_name": "Lead", "event_id": f"h{i}", "user": {"email": [hostile] * 10}} for i in range(20)
    ]
    async with run_relay(tmp_path, run_worker=False) as relay:
        started = time.perf_counter()
        health, answer = await asyncio.gather(
            relay.client.get(f"{relay.base}/healthz"), relay.post_events({"events": events})
        )
        long_one = await relay.post_events({"event_name": "Lead", "user": {"email": "a@" * 30000}})
        elapsed = time.perf_counter() - started
        assert health.status_code == 200 and answer.status_code == 202
        assert long_one.status_code == 400
        assert long_one.json()["rejected"][0]["error"] == "user.email: longer than 256 characters"
        assert elapsed < 3.0


@pytest.mark.parametrize("path", ["/v1/collect", "/v1/events"])
async def test_a_compressed_body_is_refused_as_such(tmp_path: Path, path: str) -> None:
    """gzip is not read: 415 saying so, not "invalid JSON" for a body the client thinks is fine."""
    import gzip

    async with run_relay(tmp_path, run_worker=False) as relay:
        body = gzip.compress(json.dumps(browser_event("z1")).encode())
        headers = {
            "content-type": "application/json",
            "content-encoding": "gzip",
            "origin": ORIGIN,
            "authorization": f"Bearer {API_KEY}",
        }
        answer = await relay.client.post(relay.base + path, content=body, headers=headers)
        assert answer.status_code == 415 and "uncompressed" in answer.json()["detail"], answer.text
        plain = {**headers, "content-encoding": "identity"}
        fine = await relay.client.post(relay.base + path, json=browser_event("z2"), headers=plain)
        assert fine.status_code == 202, fine.text
