"""Attacks on the HTTP boundary and the admin surface: raw sockets, slow clients, CSRF, sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.hostile.harness import ADMIN_TOKEN, raw_exchange
from tests.hostile.scenario import LOGIN_FORM, Attacker, Observations, transport_failure

EVIL_ORIGIN = "https://evil.shop.example"


async def raw_attacks(port: int, obs: Observations) -> None:
    """Oversized headers and requests uvicorn itself refuses, each on its own connection."""
    host = b"Host: 127.0.0.1\r\n"
    big = b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    many = (
        b"GET /healthz HTTP/1.1\r\n" + host + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(2500))
    )
    cookie = b"POST /v1/collect HTTP/1.1\r\n" + host + b"Cookie: _fbp=" + b"c" * 100_000 + b"\r\n"
    cookie += b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    attacks = {
        "header_100k": big,
        "headers_many": many + b"\r\n",
        "cookie_100k": cookie,
        "garbage_request_line": b"NOT-HTTP AT ALL\r\n\r\n",
        "bad_bytes_in_target": b"GET /\x7f\x00 HTTP/1.1\r\n" + host + b"\r\n",
        "tls_hello_on_plain_port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
        + b"\x00" * 40
        + b"\r\n\r\n",
    }
    answers = await asyncio.gather(*(raw_exchange(port, payload) for payload in attacks.values()))
    obs.raw.update(zip(attacks, answers, strict=True))


async def slow_clients(port: int, obs: Observations, limit: float) -> None:
    """Clients that send part of a request and stall: the server must hang up on them."""
    host = b"Host: 127.0.0.1\r\n"
    partial_headers = b"POST /v1/collect HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
    partial_body = (
        b"POST /v1/collect HTTP/1.1\r\n" + host + b"Origin: https://shop.example\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b'{"event_name": "Lea'
    )
    partial_login = (
        b"POST /admin/login HTTP/1.1\r\n" + host + b"Content-Type: " + LOGIN_FORM.encode() + b"\r\n"
        b"Content-Length: 5000\r\n\r\ntoken="
    )
    attacks = {
        "partial_headers": partial_headers,
        "partial_body": partial_body,
        "partial_login": partial_login,
    }
    answers = await asyncio.gather(*(raw_exchange(port, b, timeout=limit) for b in attacks.values()))
    obs.slow.update(zip(attacks, answers, strict=True))


class _Safe:
    """An httpx client whose transport failures become status-0 answers, so one hang-up is one failed
    check rather than the end of the run."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            return transport_failure(exc)


def _cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "relay_admin":
            value = rest.split(";", 1)[0]
            return value or None
    return None


async def admin_attacks(a: Attacker, attacker_client: httpx.AsyncClient) -> None:
    """Sessions, CSRF, body validation and headers of the admin surface; answers in ``obs.admin``."""
    obs, base = a.obs, a.base
    client = _Safe(a.client)
    attacker = _Safe(attacker_client)
    own = {"origin": base, "sec-fetch-site": "same-origin"}
    bearer = {"authorization": f"Bearer {ADMIN_TOKEN}"}

    async def login(**headers: str) -> httpx.Response:
        return await client.post(
            f"{base}/admin/login",
            content=f"token={ADMIN_TOKEN}",
            headers={"content-type": LOGIN_FORM, **headers},
        )

    async def post(name: str, path: str, cookie: str | None, headers: dict[str, str], **kw: Any) -> None:
        cookies = {"cookie": f"relay_admin={cookie}"} if cookie else {}
        obs.admin[name] = await client.post(f"{base}{path}", headers={**cookies, **headers}, **kw)

    first, second = await login(**own), await login(**own)
    obs.admin["login_1"], obs.admin["login_2"] = first, second
    c1, c2 = _cookie(first), _cookie(second)
    obs.cookies.update({"first": c1, "second": c2})
    replay = "/admin/api/replay"
    harmless = {"event_id": "no-such-event"}
    json_type = {"content-type": "application/json"}
    await post("replay_same_origin", replay, c1, {**own, **json_type}, json=harmless)
    await post("replay_evil_origin", replay, c1, {"origin": EVIL_ORIGIN, **json_type}, json=harmless)
    await post("replay_same_site", replay, c1, {"sec-fetch-site": "same-site", **json_type}, json=harmless)
    await post("replay_cross_site", replay, c1, {"sec-fetch-site": "cross-site", **json_type}, json=harmless)
    await post("replay_form", replay, c1, {"content-type": LOGIN_FORM}, content="status=dead")
    await post("replay_text_plain", replay, c1, {"content-type": "text/plain"}, content='{"status": "dead"}')
    await post(
        "resume_evil_origin", "/admin/api/connectors/meta/resume", c1, {"origin": EVIL_ORIGIN, **json_type}
    )
    await post(
        "login_evil_origin",
        "/admin/login",
        None,
        {"origin": EVIL_ORIGIN, "content-type": LOGIN_FORM},
        content=f"token={ADMIN_TOKEN}",
    )
    for name, body in {
        "replay_status_list": {"status": ["dead"]},
        "replay_connector_dict": {"connector": {}},
        "replay_event_id_number": {"event_id": 5},
        "replay_since_object": {"since": {"a": 1}},
        "replay_array_body": [1, 2],
    }.items():
        await post(name, replay, None, {**bearer, **json_type}, json=body)
    obs.admin["deliveries_limit_text"] = await client.get(
        f"{base}/admin/api/deliveries?limit=x", headers=bearer
    )
    obs.admin["deliveries_status_bad"] = await client.get(
        f"{base}/admin/api/deliveries?status=%00dead", headers=bearer
    )
    obs.admin["dashboard"] = await client.get(f"{base}/admin/", headers=bearer)
    obs.admin["dashboard_login_page"] = await client.get(f"{base}/admin/")
    obs.admin["api_json"] = await client.get(f"{base}/admin/api/stats", headers=bearer)
    obs.admin["cookie_1_before_logout"] = await client.get(
        f"{base}/admin/api/stats", headers={"cookie": f"relay_admin={c1}"}
    )
    logout = await client.post(f"{base}/admin/logout", headers={**own, "cookie": f"relay_admin={c1}"})
    if logout.status_code == 405:  # a relay whose logout is still a GET link
        logout = await client.get(f"{base}/admin/logout", headers={"cookie": f"relay_admin={c1}"})
    obs.admin["logout"] = logout
    obs.admin["cookie_1_after_logout"] = await client.get(
        f"{base}/admin/api/stats", headers={"cookie": f"relay_admin={c1}"}
    )
    obs.admin["cookie_2_after_logout"] = await client.get(
        f"{base}/admin/api/stats", headers={"cookie": f"relay_admin={c2}"}
    )
    for k in range(8):
        obs.failed_logins.append(
            await attacker.post(
                f"{base}/admin/login", content=f"token=wrong-{k}", headers={"content-type": LOGIN_FORM}
            )
        )
