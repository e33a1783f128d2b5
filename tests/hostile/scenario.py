"""One run of the hostile suite against one storage backend: a stream of good events with every attack
mixed in, sent concurrently to a real ``relay serve``; then the outbox drained and everything the tests
assert on collected into :class:`Observations`."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.hostile import payloads as p
from tests.hostile.harness import (
    ADMIN_TOKEN,
    API_KEY,
    HealthProbe,
    RawAnswer,
    RelayProcess,
)

GOOD_SINGLES = 60  # per endpoint: /v1/collect and /v1/events
GOOD_GIFS = 40
BATCHES = 20
BATCH_GOOD = 7
CONCURRENCY = 12
#: attacks that are mixed into batches (the others make the whole body unreadable, so they go alone)
BATCHABLE = (
    "nested_custom",
    "nul_event_name",
    "nul_event_id",
    "nul_url",
    "newline_event_id",
    "control_event_id",
    "contents_number",
    "contents_not_objects",
    "content_ids_dict",
    "num_items_text",
    "time_superscript",
    "time_list",
)
LOGIN_FORM = "application/x-www-form-urlencoded"


@dataclass
class Answer:
    """One HTTP answer the attacker or a good client got."""

    kind: str  # good, bad, mixed, bomb, dedup, redact, country
    label: str
    status: int
    content_type: str
    text: str
    elapsed: float
    good_ids: list[str] = field(default_factory=list)
    bad_indexes: list[int] = field(default_factory=list)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass
class Observations:
    backend: str
    storage_url: str
    answers: list[Answer] = field(default_factory=list)
    #: good event id → the endpoint it came through
    good: dict[str, str] = field(default_factory=dict)
    health: HealthProbe | None = None
    raw: dict[str, RawAnswer] = field(default_factory=dict)
    slow: dict[str, RawAnswer] = field(default_factory=dict)
    slow_limit: float = 30.0
    admin: dict[str, httpx.Response] = field(default_factory=dict)
    cookies: dict[str, str | None] = field(default_factory=dict)
    failed_logins: list[httpx.Response] = field(default_factory=list)
    drained: bool = False
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    meta_events: list[dict[str, Any]] = field(default_factory=list)
    x_conversions: list[dict[str, Any]] = field(default_factory=list)
    platform_requests: list[str] = field(default_factory=list)
    big_login: RawAnswer | None = None
    rss_growth: int = 0
    admin_dump: list[str] = field(default_factory=list)
    storage: list[str] = field(default_factory=list)
    log: str = ""
    dedup: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: good events sent before the stream, whose first platform answers were scripted errors
    canaries: set[str] = field(default_factory=set)
    #: exceptions the attack drivers themselves raised (each is a test failure)
    errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # the default would print every answer in each failure report
        return f"Observations({self.backend}: {len(self.answers)} answers, timings {self.timings})"

    def by_kind(self, kind: str) -> list[Answer]:
        return [a for a in self.answers if a.kind == kind]

    def answer(self, label: str) -> Answer:
        return next(a for a in self.answers if a.label == label)


def transport_failure(exc: Exception) -> httpx.Response:
    """A stand-in answer (status 0) for a request the server never answered."""
    return httpx.Response(0, text=f"no answer: {type(exc).__name__}: {exc}")


class Attacker:
    """Sends the stream: every request records its :class:`Answer` in the observations."""

    def __init__(self, relay: RelayProcess, obs: Observations, client: httpx.AsyncClient) -> None:
        self.relay, self.obs, self.client = relay, obs, client
        self.base = relay.base

    async def send(
        self,
        kind: str,
        label: str,
        method: str,
        path: str,
        *,
        good_ids: list[str] | None = None,
        bad_indexes: list[int] | None = None,
        client: httpx.AsyncClient | None = None,
        **kw: Any,
    ) -> Answer:
        started = time.perf_counter()
        try:
            response = await (client or self.client).request(method, f"{self.base}{path}", **kw)
        except httpx.HTTPError as exc:  # the server hung up or never answered: status 0
            response = transport_failure(exc)
        media = response.headers.get("content-type", "")
        answer = Answer(
            kind,
            label,
            response.status_code,
            media,
            response.text if "gif" not in media else "",
            time.perf_counter() - started,
            good_ids or [],
            bad_indexes or [],
        )
        self.obs.answers.append(answer)
        return answer

    async def collect(self, kind: str, label: str, content: Any, **kw: Any) -> Answer:
        body = content if isinstance(content, bytes) else p.body(content)
        headers = {"origin": p.ORIGIN, "content-type": "application/json", **kw.pop("headers", {})}
        return await self.send(kind, label, "POST", "/v1/collect", content=body, headers=headers, **kw)

    async def events(self, kind: str, label: str, content: Any, **kw: Any) -> Answer:
        body = content if isinstance(content, bytes) else p.body(content)
        headers = {
            "authorization": f"Bearer {API_KEY}",
            "content-type": "application/json",
            **kw.pop("headers", {}),
        }
        return await self.send(kind, label, "POST", "/v1/events", content=body, headers=headers, **kw)

    async def gif(self, kind: str, label: str, params: dict[str, str], **kw: Any) -> Answer:
        return await self.send(kind, label, "GET", "/p.gif", params=params, **kw)

    async def admin_get(self, path: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        return await self.client.get(f"{self.base}/admin/api/{path}", headers=headers)

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.admin_get(
            "deliveries?" + httpx.QueryParams({"limit": 1000, **params}).__str__()
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items


# -- the stream -----------------------------------------------------------------------------------------


def good_stream(a: Attacker, tag: str) -> list[Callable[[], Awaitable[Any]]]:
    """Good singles on the three endpoints, and batches of good events with bad ones mixed in."""
    jobs: list[Callable[[], Awaitable[Any]]] = []
    n = 0

    def next_id(endpoint: str) -> tuple[int, str]:
        nonlocal n
        n += 1
        event_id = f"good-{tag}-{n}"
        a.obs.good[event_id] = endpoint
        return n, event_id

    for _ in range(GOOD_SINGLES):
        i, eid = next_id("collect")
        jobs.append(
            lambda i=i, eid=eid: a.collect("good", eid, p.good_event(i, eid, server=False), good_ids=[eid])
        )
        i, eid = next_id("events")
        jobs.append(
            lambda i=i, eid=eid: a.events("good", eid, p.good_event(i, eid, server=True), good_ids=[eid])
        )
    for _ in range(GOOD_GIFS):
        _, eid = next_id("gif")
        jobs.append(lambda eid=eid: a.gif("good", eid, p.gif_query(eid)))
    for b in range(BATCHES):
        endpoint = "collect" if b % 2 == 0 else "events"
        server = endpoint == "events"
        events: list[dict[str, Any]] = []
        ids: list[str] = []
        for _ in range(BATCH_GOOD):
            i, eid = next_id(endpoint)
            events.append(p.good_event(i, eid, server=server))
            ids.append(eid)
        bad = p.bad_events(f"{tag}-b{b}")
        rng = random.Random(b)
        picks = [BATCHABLE[(2 * b) % len(BATCHABLE)], BATCHABLE[(2 * b + 1) % len(BATCHABLE)]]
        for name in picks:
            events.insert(rng.randrange(len(events) + 1), bad[name])
        indexes = [k for k, e in enumerate(events) if str(e["event_id"]).startswith("bad-")]
        send = a.collect if endpoint == "collect" else a.events
        label = f"batch-{b}:{'+'.join(picks)}"
        jobs.append(
            lambda send=send, label=label, events=events, ids=ids, indexes=indexes: send(
                "mixed", label, {"events": events}, good_ids=ids, bad_indexes=indexes
            )
        )
    return jobs


def bad_stream(a: Attacker, tag: str) -> list[Callable[[], Awaitable[Any]]]:
    """Every attack alone on /v1/collect and /v1/events, the regex bombs, and bad pixel hits."""
    jobs: list[Callable[[], Awaitable[Any]]] = []
    for endpoint, send in (("collect", a.collect), ("events", a.events)):
        for name, event in p.bad_events(f"{tag}-{endpoint}").items():
            jobs.append(lambda send=send, label=f"{endpoint}:{name}", event=event: send("bad", label, event))
    for name, body in p.regex_bombs(tag).items():
        jobs.append(lambda name=name, body=body: a.collect("bomb", f"bomb:{name}", body))
    for name, value in (("nul_eid", "gif-\x00-id"), ("newline_eid", "gif\nINFO forged")):
        params = {**p.gif_query("x"), "eid": f"bad-{tag}-{value}"}
        jobs.append(lambda name=name, params=params: a.gif("bad_gif", f"gif:{name}", params))
    return jobs


def redaction_stream(a: Attacker, tag: str) -> list[Callable[[], Awaitable[Any]]]:
    """E-mail addresses where contact details do not belong: URLs and custom values."""
    url_event = {
        "event_name": "Lead",
        "event_id": f"redact-{tag}-url",
        "event_source_url": f"https://shop.example/thanks?email=leak.url.{tag}@{p.MAIL_DOMAIN}&step=2",
        "referrer_url": f"https://shop.example/u/leak.ref.{tag}@{p.MAIL_DOMAIN}/x",
        "consent": p.CONSENT,
    }
    custom_event = {
        "event_name": "Lead",
        "event_id": f"redact-{tag}-custom",
        "event_source_url": "https://shop.example/form",
        "user": {"ip": "203.0.113.9", "user_agent": p.BROWSER_UA, "country": "US", "external_id": "c-1"},
        "custom": {"note": f"call me at leak.custom.{tag}@{p.MAIL_DOMAIN} please"},
        "consent": p.CONSENT,
    }
    gif = {
        **p.gif_query(f"redact-{tag}-gif"),
        "url": f"https://shop.example/p?e=leak.gif.{tag}@{p.MAIL_DOMAIN}&twclid=23opevjt88psuo13lu8d020qkn",
    }
    return [
        lambda: a.collect("redact", "redact:url", url_event),
        lambda: a.events("redact", "redact:custom", custom_event),
        lambda: a.gif("redact", "redact:gif", gif),
    ]


def country_stream(a: Attacker, tag: str, trusted: httpx.AsyncClient) -> list[Callable[[], Awaitable[Any]]]:
    """``CF-IPCountry: US`` and no consent signal: believed only from the trusted proxy."""

    def event(name: str) -> dict[str, Any]:
        return {
            "event_name": "Lead",
            "event_id": f"country-{tag}-{name}",
            "event_source_url": "https://shop.example/c",
            "user": {"email": f"country.{name}@{p.MAIL_DOMAIN}"},
        }

    header = {"cf-ipcountry": "US"}
    return [
        lambda: a.collect("country", "country:untrusted", event("untrusted"), headers=header),
        lambda: a.events(
            "country", "country:untrusted-server", {**event("untrusted-server")}, headers=header
        ),
        lambda: a.collect("country", "country:trusted", event("trusted"), headers=header, client=trusted),
    ]


async def dedup_after_delivery(a: Attacker, tag: str) -> None:
    """The attacker's browser copy is delivered before the real server purchase arrives."""
    eid = f"order-{tag}-late"
    await a.collect("dedup", "dedup:late-browser", _cheap_purchase(eid))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = await a.deliveries(event_id=eid, connector="meta")
        if any(d["status"] == "delivered" for d in items):
            break
        await asyncio.sleep(0.05)
    await a.events("dedup", "dedup:late-server", _real_purchase(eid, tag))
    a.obs.dedup[eid] = {"email": _buyer(tag)}


async def dedup_back_to_back(a: Attacker, tag: str) -> None:
    eid = f"order-{tag}-race"
    await a.collect("dedup", "dedup:race-browser", _cheap_purchase(eid))
    await a.events("dedup", "dedup:race-server", _real_purchase(eid, tag))
    a.obs.dedup[eid] = {"email": _buyer(tag)}


def _buyer(tag: str) -> str:
    return f"real.buyer.{tag}@{p.MAIL_DOMAIN}"


def _cheap_purchase(eid: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": eid,
        "event_source_url": "https://shop.example/thanks?fbclid=IwAR_attacker_click&twclid=attackerclick1",
        "custom": {"value": 0.01, "currency": "EUR", "order_id": eid},
        "consent": p.CONSENT,
    }


def _real_purchase(eid: str, tag: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": eid,
        "event_source_url": "https://shop.example/checkout/done",
        "user": {"email": _buyer(tag), "ip": "203.0.113.9", "user_agent": p.BROWSER_UA, "country": "US"},
        "custom": {"value": 500, "currency": "EUR", "order_id": eid},
        "consent": p.CONSENT,
    }
