"""The admin boundary against an attacker: bounded sign-in bodies, cross-site refusal, random server-side
sessions that end on sign-out and expire, a sign-in rate limit, security headers, typed filters."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from relay import cli
from relay.http.auth import digest
from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import ADMIN_TOKEN, Relay, purchase, run_relay, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
COOKIE = "relay_admin"


async def sign_in(relay: Relay, **headers: str) -> httpx.Response:
    """A sign-in from a client of its own, so no test's shared client keeps the cookie by accident."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            f"{relay.base}/admin/login",
            data={"token": ADMIN_TOKEN},
            headers={"origin": relay.base, **headers},
        )


def session_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    value = response.cookies.get(COOKIE)
    assert value
    return value


def as_browser(session: str, **headers: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={session}", **headers}


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    async with run_relay(tmp_path, run_worker=False) as running:
        yield running


async def test_sign_in_reads_a_bounded_body(relay: Relay) -> None:
    url = f"{relay.base}/admin/login"
    declared = await relay.client.post(
        url, content=b"token=" + b"a" * 300_000, headers={"origin": relay.base}
    )
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

    async def endless() -> AsyncIterator[bytes]:  # chunked, no Content-Length: stopped at the bound
        for _ in range(10_000):
            yield b"a" * 1024

    streamed = await relay.client.post(url, content=endless(), headers={"origin": relay.base})
    assert streamed.status_code == 413 and streamed.json()["error"] == "payload_too_large"
    assert session_of(await sign_in(relay))  # a normal form still signs in


async def test_each_sign_in_gets_a_new_session_that_sign_out_ends(relay: Relay) -> None:
    first = session_of(await sign_in(relay))
    second = session_of(await sign_in(relay))
    assert first != second and ADMIN_TOKEN not in first and len(first) >= 40
    stats = f"{relay.base}/admin/api/stats"
    for session in (first, second):
        assert (await relay.client.get(stats, headers=as_browser(session))).status_code == 200
    with sqlite3.connect(relay.config_path.parent / "relay.db") as db:
        stored = [row[0] for row in db.execute("SELECT digest FROM admin_sessions")]
    assert len(stored) == 2 and first not in stored and second not in stored  # digests only

    out = await relay.client.post(f"{relay.base}/admin/logout", headers=as_browser(first, origin=relay.base))
    assert out.status_code == 303 and f"{COOKIE}=" in out.headers["set-cookie"]
    # the cookie replayed after sign-out is dead server-side; the other session lives on
    assert (await relay.client.get(stats, headers=as_browser(first))).status_code == 401
    assert (await relay.client.get(stats, headers=as_browser(second))).status_code == 200
    assert (await relay.client.get(f"{relay.base}/admin/", headers=as_browser(first))).status_code == 401


async def test_sign_out_by_link_from_another_site_is_refused(relay: Relay) -> None:
    session = session_of(await sign_in(relay))
    logout = f"{relay.base}/admin/logout"
    for site in ("cross-site", "same-site"):
        refused = await relay.client.get(logout, headers=as_browser(session, **{"sec-fetch-site": site}))
        assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"
    assert (await relay.client.get(f"{relay.base}/admin/api/stats", headers=as_browser(session))).is_success
    typed = await relay.client.get(logout, headers=as_browser(session, **{"sec-fetch-site": "none"}))
    assert typed.status_code == 303
    assert (
        await relay.client.get(f"{relay.base}/admin/api/stats", headers=as_browser(session))
    ).status_code == 401


def age_session(relay: Relay, session: str, **seconds_ago: float) -> None:
    """Move a stored session's ``expires_at``/``last_seen_at`` to that many seconds ago (time travel on
    the real database, so the tests need not wait hours or sleep)."""
    with sqlite3.connect(relay.config_path.parent / "relay.db") as db:
        for column, ago in seconds_ago.items():
            moved = db.execute(
                f"UPDATE admin_sessions SET {column} = ? WHERE digest = ?",
                (time.time() - ago, digest(session)),
            )
            assert moved.rowcount == 1


async def test_sessions_expire(relay: Relay) -> None:
    stats = f"{relay.base}/admin/api/stats"
    ended, live = session_of(await sign_in(relay)), session_of(await sign_in(relay))
    with sqlite3.connect(relay.config_path.parent / "relay.db") as db:
        lifetimes = {round(e - c) for c, e in db.execute("SELECT created_at, expires_at FROM admin_sessions")}
    assert lifetimes == {12 * 3600}  # admin_session_hours: 12 by default
    age_session(relay, ended, expires_at=0.001)
    age_session(relay, live, expires_at=-30)
    assert (await relay.client.get(stats, headers=as_browser(ended))).status_code == 401
    assert (await relay.client.get(stats, headers=as_browser(live))).status_code == 200


async def test_idle_sessions_expire(relay: Relay) -> None:
    stats = f"{relay.base}/admin/api/stats"
    ended, live = session_of(await sign_in(relay)), session_of(await sign_in(relay))
    age_session(relay, ended, last_seen_at=60 * 60 + 1)  # admin_session_idle_minutes: 60 by default
    age_session(relay, live, last_seen_at=60 * 60 - 30)
    assert (await relay.client.get(stats, headers=as_browser(ended))).status_code == 401
    assert (await relay.client.get(stats, headers=as_browser(live))).status_code == 200
    with sqlite3.connect(relay.config_path.parent / "relay.db") as db:
        [(seen,)] = db.execute("SELECT last_seen_at FROM admin_sessions WHERE digest = ?", (digest(live),))
    assert seen > time.time() - 60  # that use restarted its idle clock


async def test_short_session_settings_end_sessions_in_real_time(tmp_path: Path) -> None:
    short = {"admin_session_hours": 0.0003, "admin_session_idle_minutes": 0.01}  # 1.08 s; idle 0.6 s
    async with run_relay(tmp_path, run_worker=False, server=short) as relay:
        stats = f"{relay.base}/admin/api/stats"
        session = session_of(await sign_in(relay))
        with sqlite3.connect(relay.config_path.parent / "relay.db") as db:
            [(created, expires)] = db.execute("SELECT created_at, expires_at FROM admin_sessions").fetchall()
        assert expires - created == pytest.approx(1.08)

        async def refused() -> bool:
            return (await relay.client.get(stats, headers=as_browser(session))).status_code == 401

        await relay.wait_for(refused, timeout=10, what="the session to end")
        assert time.time() >= created + 0.6  # not before its time


async def test_sessions_are_shared_by_processes_and_end_with_the_token(tmp_path: Path) -> None:
    """Two relays on one database (as worker processes are): a session opened on one works on the
    other, and signing out on one ends it on both; a new admin token ends the old token's sessions."""
    async with run_relay(tmp_path, run_worker=False) as one, run_relay(tmp_path, run_worker=False) as two:
        session = session_of(await sign_in(one))
        assert (await two.client.get(f"{two.base}/admin/api/stats", headers=as_browser(session))).is_success
        await two.client.post(f"{two.base}/admin/logout", headers=as_browser(session, origin=two.base))
        assert (
            await one.client.get(f"{one.base}/admin/api/stats", headers=as_browser(session))
        ).status_code == 401
        session = session_of(await sign_in(one))
    rotated = {"admin_token": "another-admin-token-987654321"}
    async with run_relay(tmp_path, run_worker=False, server=rotated) as relay:
        assert (
            await relay.client.get(f"{relay.base}/admin/api/stats", headers=as_browser(session))
        ).status_code == 401


async def test_state_changing_requests_from_other_sites_are_refused(relay: Relay) -> None:
    session = session_of(await sign_in(relay))
    replay = f"{relay.base}/admin/api/replay"
    resume = f"{relay.base}/admin/api/connectors/meta/resume"
    json_type = {"content-type": "application/json"}
    attacks = [
        {"origin": "https://evil.example", **json_type},
        {"origin": "http://sub.127.0.0.1.nip.io", **json_type},
        {"origin": "null", **json_type},
        {"origin": relay.base.replace("http://", "https://"), **json_type},
        {"sec-fetch-site": "same-site", **json_type},
        {"sec-fetch-site": "cross-site", "origin": relay.base, **json_type},
        {"origin": relay.base, "content-type": "application/x-www-form-urlencoded"},
        {"origin": relay.base, "content-type": "text/plain"},
        {"origin": relay.base, "content-type": "multipart/form-data; boundary=x"},
        {"origin": relay.base},
    ]
    for headers in attacks:
        for url in (replay, resume):
            refused = await relay.client.post(url, content=b"{}", headers=as_browser(session, **headers))
            assert refused.status_code == 403, (url, headers)
            assert refused.json()["error"] == "origin_not_allowed"
    # the dashboard's own calls: same origin, JSON
    own = as_browser(session, origin=relay.base, **{"sec-fetch-site": "same-origin"}, **json_type)
    assert (await relay.client.post(replay, content=b'{"status": "dead"}', headers=own)).json() == {
        "requeued": 0
    }
    assert (await relay.client.post(resume, content=b"{}", headers=own)).json() == {"state": "active"}
    # a Bearer client sends no Origin and needs no content type
    assert (await relay.admin("connectors/meta/resume", "POST")).json() == {"state": "active"}
    assert (await relay.admin("replay", "POST")).json() == {"requeued": 0}
    # sign-in is guarded too
    forged = await sign_in(relay, origin="https://evil.example")
    assert forged.status_code == 403 and COOKIE not in forged.headers.get("set-cookie", "")


async def test_origin_is_compared_through_trusted_proxies(relay: Relay) -> None:
    proxied = {"x-forwarded-proto": "https", "x-forwarded-host": "t.shop.example"}
    ok = await sign_in(relay, **proxied, origin="https://t.shop.example")
    assert ok.status_code == 303
    wrong = await sign_in(relay, **proxied, origin=relay.base)
    assert wrong.status_code == 403


async def test_failed_sign_ins_are_rate_limited_per_client(relay: Relay) -> None:
    url = f"{relay.base}/admin/login"
    attacker = {"origin": relay.base, "x-forwarded-for": "203.0.113.50"}
    for _ in range(5):
        wrong = await relay.client.post(url, data={"token": "guess"}, headers=attacker)
        assert wrong.status_code == 401
    limited = await relay.client.post(url, data={"token": ADMIN_TOKEN}, headers=attacker)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other = await relay.client.post(
        url, data={"token": ADMIN_TOKEN}, headers={"origin": relay.base, "x-forwarded-for": "198.51.100.7"}
    )
    assert other.status_code == 303


async def test_admin_answers_carry_security_headers(relay: Relay) -> None:
    session = session_of(await sign_in(relay))
    answers = [
        await relay.client.get(f"{relay.base}/admin/"),  # the sign-in form
        await relay.client.get(f"{relay.base}/admin/", headers=as_browser(session)),  # the dashboard
        await relay.admin("stats"),
        await relay.client.get(f"{relay.base}/admin/api/stats"),  # 401
        await relay.client.get(f"{relay.base}/admin/nothing"),
    ]
    for answer in answers:
        h = answer.headers
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer" and "no-store" in h["cache-control"]
    dashboard = answers[1]
    assert (
        "Sign out" in dashboard.text and "script-src 'sha256-" in dashboard.headers["content-security-policy"]
    )
    for path in ("/v1/nothing", "/healthz"):
        assert (await relay.client.get(relay.base + path)).headers["x-content-type-options"] == "nosniff"


async def test_replay_and_listing_refuse_mistyped_filters(relay: Relay) -> None:
    for body in ({"status": ["dead"]}, {"connector": {"$ne": ""}}, {"since": [1]}, {"event_id": 5}, [1], "x"):
        answer = await relay.admin("replay", "POST", json=body)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_event", body
        assert answer.json()["detail"]
    for params in ({"event_id": "a\x00b"}, {"limit": "many"}, {"status": "lost"}, {"connector": "c" * 300}):
        answer = await relay.admin("deliveries", params=params)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_event", params
    assert (await relay.admin("events/a%00b")).status_code == 400
    assert (await relay.admin("replay", "POST", json={"connector": "meta", "since": 0})).status_code == 200


async def test_country_headers_are_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    geo = {"country_header": "CF-IPCountry", "region_header": "CF-Region-Code"}
    event = {"event_name": "ViewContent", "event_id": "geo", "event_source_url": "https://shop.example/p"}
    headers = {"origin": "https://shop.example", "cf-ipcountry": "DE"}

    async def decision(relay: Relay, endpoint: str, event_id: str) -> str:
        body = {**event, "event_id": event_id}
        if endpoint == "collect":
            await relay.client.post(f"{relay.base}/v1/collect", json=body, headers=headers)
        else:
            await relay.post_events({**body, "user": {"external_id": "u1"}}, headers=headers)
        [d] = await relay.deliveries(event_id=event_id)
        return str(d["consent"]["reason"])

    # the peer (127.0.0.1) is a trusted proxy: DE is believed, the EU default (deny) applies
    async with run_relay(tmp_path / "trusted", run_worker=False, server=geo) as relay:
        assert "eu" in await decision(relay, "collect", "t1") and "eu" in await decision(
            relay, "events", "t2"
        )
    # trusted proxies exist but the peer is not one of them: anyone could have sent the header
    untrusted = {**geo, "trusted_proxies": ["10.0.0.0/8"]}
    async with run_relay(tmp_path / "untrusted", run_worker=False, server=untrusted) as relay:
        for endpoint, event_id in (("collect", "u1"), ("events", "u2")):
            assert "eu" not in await decision(relay, endpoint, event_id)
    # no trusted proxies at all: a direct CDN deployment, believed (and `relay check` warns)
    direct = {**geo, "trusted_proxies": []}
    async with run_relay(tmp_path / "direct", run_worker=False, server=direct) as relay:
        assert "eu" in await decision(relay, "collect", "d1")


def test_check_warns_about_country_headers_without_trusted_proxies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, 8000, server={"country_header": "CF-IPCountry", "trusted_proxies": []})
    assert cli.main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: server.country_header" in out and "trusted_proxies" in out
    path = write_config(tmp_path, 8000, server={"country_header": "CF-IPCountry"})
    assert cli.main(["check", "--config", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


async def test_dashboard_replay_needs_no_token_in_the_page(relay: Relay) -> None:
    """A dead delivery replayed through a session, the way the dashboard does it."""
    relay.fake("meta").script(ScriptedResponse(status=400, body={"error": {"message": "bad", "code": 100}}))
    session = session_of(await sign_in(relay))
    await relay.post_events(purchase("dash-replay"))
    own = as_browser(session, origin=relay.base, **{"content-type": "application/json"})
    answer = await relay.client.post(f"{relay.base}/admin/api/replay", content=b"{}", headers=own)
    assert answer.status_code == 200 and "requeued" in answer.json()


@pytest.mark.postgres
async def test_sessions_and_readiness_on_postgres(tmp_path: Path, pg_fresh_url: str) -> None:
    storage = {"url": pg_fresh_url}
    async with (
        run_relay(tmp_path / "a", run_worker=False, storage=storage) as one,
        run_relay(tmp_path / "b", run_worker=False, storage=storage) as two,
    ):
        session = session_of(await sign_in(one))
        assert (await two.client.get(f"{two.base}/admin/api/stats", headers=as_browser(session))).is_success
        await one.client.post(f"{one.base}/admin/logout", headers=as_browser(session, origin=one.base))
        gone = await two.client.get(f"{two.base}/admin/api/stats", headers=as_browser(session))
        assert gone.status_code == 401
        for relay in (one, two, one):  # the heartbeat row is inserted, then updated in place
            assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
