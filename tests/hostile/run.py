"""Runs the whole hostile scenario against one relay and collects the :class:`Observations`."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from relay.sandbox.base import ScriptedResponse
from relay.testing import free_port
from tests.hostile import payloads as p
from tests.hostile.boundary import admin_attacks, raw_attacks, slow_clients
from tests.hostile.harness import (
    ADMIN_TOKEN,
    LOGIN_ATTACKER,
    META_APP_SECRET,
    META_TOKEN,
    TRUSTED_PEER,
    X_SECRETS,
    HealthProbe,
    PeakRss,
    RelayProcess,
    big_body_exchange,
    dump_storage,
    fake_platforms,
    relay_serving,
    rss_bytes,
    slow_client_settings,
)
from tests.hostile.scenario import (
    CONCURRENCY,
    GOOD_SINGLES,
    LOGIN_FORM,
    Attacker,
    Observations,
    bad_stream,
    country_stream,
    dedup_after_delivery,
    dedup_back_to_back,
    good_stream,
    redaction_stream,
)

#: bytes of the unbounded login body (the relay must refuse it long before)
BIG_LOGIN = 64 * 1024 * 1024
DRAIN_TIMEOUT = 45.0


def client(local_address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=local_address) if local_address else None
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    return httpx.AsyncClient(
        timeout=30, transport=transport, limits=limits, headers={"user-agent": p.BROWSER_UA}
    )


def observe(backend: str, storage_url: str, workdir: Path) -> Observations:
    """Start the relay on ``storage_url``, attack it, and return what was observed."""
    obs = Observations(backend, storage_url)
    fake_port = free_port()
    with relay_serving(workdir, storage_url, fake_port) as relay:
        asyncio.run(_attack(relay, obs, workdir / "relay.yaml", fake_port))
    obs.log = relay.log()
    obs.storage = dump_storage(storage_url)
    return obs


async def _attack(relay: RelayProcess, obs: Observations, config_path: Path, fake_port: int) -> None:
    async with (
        fake_platforms(config_path, fake_port) as fakes,
        client() as main,
        client(TRUSTED_PEER) as trusted,
        client(LOGIN_ATTACKER) as login_attacker,
    ):
        a = Attacker(relay, obs, main)
        tag = obs.backend
        limit = max(slow_client_settings().values(), default=27.0) + 3.0
        obs.slow_limit = limit
        good = good_stream(a, tag)
        # a first event on each endpoint before the clock starts: the first request after start-up is
        # slower (lazy imports, first connections); the acceptance criterion is about the attacks
        # their first platform answers are errors that echo the credentials (stored responses must mask them)
        _script_secret_echoes(fakes)
        ids = list(obs.good)
        warm = [ids[0], ids[1], ids[2 * GOOD_SINGLES]]
        for job in (good.pop(0), good.pop(0), good.pop(2 * GOOD_SINGLES - 2)):
            await job()
        obs.canaries = set(warm)
        await _wait_delivered(a, warm)
        started = time.perf_counter()
        with HealthProbe(relay.port) as probe:
            obs.health = probe
            slow = asyncio.create_task(slow_clients(relay.port, obs, limit))
            jobs: list[Callable[[], Awaitable[Any]]] = [
                *good,
                *bad_stream(a, tag),
                *redaction_stream(a, tag),
                *country_stream(a, tag, trusted),
                lambda: dedup_back_to_back(a, tag),
                lambda: dedup_after_delivery(a, tag),
                lambda: raw_attacks(relay.port, obs),
                lambda: admin_attacks(a, login_attacker),
            ]
            random.Random(7).shuffle(jobs)
            await _bounded(obs, jobs)
            obs.timings["stream"] = time.perf_counter() - started
            obs.drained = await _drain(a)
            obs.timings["drained"] = time.perf_counter() - started
            await _bounded(obs, [lambda: slow])
        obs.timings["slow_clients"] = time.perf_counter() - started
        await _bounded(obs, [lambda: _big_login(relay, obs)])
        obs.deliveries = await _all_deliveries(a)
        obs.admin_dump = await _admin_dump(a)
        obs.meta_events = list(fakes["meta"].events)
        obs.x_conversions = list(fakes["x"].conversions)
        obs.platform_requests = [
            f"{r.url}\n{json.dumps(r.headers)}\n{r.body.decode('utf-8', 'replace')}"
            for fake in fakes.values()
            for r in fake.requests
        ]


async def _bounded(obs: Observations, jobs: list[Callable[[], Awaitable[Any]]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            try:
                await job()
            except Exception as exc:  # recorded and asserted on; the rest of the stream goes on
                obs.errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(job) for job in jobs))


def _script_secret_echoes(fakes: dict[str, Any]) -> None:
    """Retryable platform errors whose text repeats every credential, at two periods so that wherever
    the relay cuts a stored text, some copy of a secret straddles the cut."""
    meta = "".join(("#" * k + secret) for k in (1, 2) for secret in (META_TOKEN, META_APP_SECRET) * 30)
    x = "".join(("#" * k + secret) for k in (1, 2) for secret in (*X_SECRETS.values(),) * 15)
    for body in ({"error": {"message": meta, "type": "OAuthException", "code": 2, "is_transient": True}},):
        fakes["meta"].script(ScriptedResponse(503, body), ScriptedResponse(500, body))
    x_body = {"errors": [{"code": "INTERNAL_ERROR", "message": x}]}
    fakes["x"].script(ScriptedResponse(503, x_body), ScriptedResponse(500, x_body))


async def _wait_delivered(a: Attacker, event_ids: list[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = [d for i in event_ids for d in await a.deliveries(event_id=i) if d["status"] == "delivered"]
        if len(done) >= 2 * len(event_ids):
            return
        await asyncio.sleep(0.05)
    a.obs.errors.append(f"the warm-up events {event_ids} were not delivered within 20 s")


async def _drain(a: Attacker) -> bool:
    """Wait until no delivery is pending or in flight (every attempt has an outcome)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        busy = [d for s in ("pending", "in_flight") for d in await a.deliveries(status=s)]
        if not busy:
            return True
        await asyncio.sleep(0.1)
    return False


async def _all_deliveries(a: Attacker) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for status in ("pending", "in_flight", "delivered", "dead", "skipped"):
        for connector in ("meta", "x"):
            out.extend(await a.deliveries(status=status, connector=connector))
    return out


async def _big_login(relay: RelayProcess, obs: Observations) -> None:
    """An unbounded body to /admin/login, while the relay's memory is watched."""
    head = (
        f"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {LOGIN_FORM}\r\n"
        f"Content-Length: {BIG_LOGIN}\r\n\r\n"
    ).encode()
    before = rss_bytes(relay.pid)
    with PeakRss(relay.pid) as peak:
        obs.big_login = await asyncio.to_thread(big_body_exchange, relay.port, head, BIG_LOGIN)
    obs.rss_growth = peak.peak - before


async def _admin_dump(a: Attacker) -> list[str]:
    """Every admin API answer an operator can read about this run."""
    texts = []
    for path in ("connectors", "stats", "deliveries?limit=1000"):
        texts.append((await a.admin_get(path)).text)
    for status in ("delivered", "dead", "skipped"):
        texts.append((await a.admin_get(f"deliveries?limit=1000&status={status}")).text)
    ids = [*list(a.obs.good)[:: max(1, len(a.obs.good) // 25)], *a.obs.dedup]
    ids += [f"redact-{a.obs.backend}-{k}" for k in ("url", "custom", "gif")]
    ids += [f"country-{a.obs.backend}-{k}" for k in ("untrusted", "untrusted-server", "trusted")]
    for event_id in ids:
        texts.append((await a.admin_get(f"events/{event_id}")).text)
    dashboard = await a.client.get(f"{a.base}/admin/", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    texts.append(dashboard.text)
    return texts
