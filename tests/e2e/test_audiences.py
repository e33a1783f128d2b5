"""Audiences end to end: a real relay (uvicorn, SQLite file, the sandbox's fake Meta and X keeping
membership), its HTTP endpoints, events ingested over HTTP, the CLI, the scheduler, stats and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from relay.audiences import AudienceScheduler, SyncEnv, SyncOptions, sync_audience
from relay.audiences import api as audience_api
from relay.audiences.command import sync_command
from relay.config import load_settings
from relay.exceptions import ConfigError
from relay.sandbox.base import ScriptedResponse
from relay.sandbox.x import SANDBOX_OAUTH
from relay.testing import free_port, serve
from tests.e2e.harness import API_KEY, Relay, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

META_AUDIENCE, X_AUDIENCE = "23840000000000077", "2906h"
FAST = SyncOptions(attempts=1)
AUTH = {"authorization": f"Bearer {API_KEY}"}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def x_block(port: int) -> dict[str, Any]:
    keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    return {
        "type": "x",
        "pixel_id": "o8z6j",
        "event_tags": {"Purchase": "o87ne"},
        "ads_account_id": "18ce54d4x5t",
        "api_base": f"http://127.0.0.1:{port}/sandbox/x",
        # X needs ad_user_data when a consent-mode signal is present; Meta (in the harness) does not
        "consent": {"tcf_purposes": [1], "gcm": ["ad_user_data"]},
        **dict(zip(keys, SANDBOX_OAUTH, strict=True)),
    }


def to_both(**source: Any) -> dict[str, Any]:
    return {
        "source": source,
        "destinations": {"meta": {"audience_id": META_AUDIENCE}, "x": {"audience_id": X_AUDIENCE}},
    }


@contextlib.asynccontextmanager
async def relay_with(tmp_path: Path, audiences: dict[str, Any], **kw: Any) -> AsyncIterator[Relay]:
    port = free_port()
    async with run_relay(
        tmp_path, port=port, connectors={"x": x_block(port)}, audiences=audiences, **kw
    ) as relay:
        yield relay


@contextlib.asynccontextmanager
async def audience_api_base(relay: Relay) -> AsyncIterator[str]:
    """The relay's own base URL once ``relay/app.py`` routes the audience endpoints; until then the same
    handlers served beside it, over the same running relay."""
    if any(getattr(route, "path", "") == "/v1/users" for route in relay.app.routes):
        yield relay.base
        return
    side = Starlette(
        routes=[
            Route("/v1/audiences/{name}/members", audience_api.post_members, methods=["POST"]),
            Route("/v1/users", audience_api.delete_user, methods=["DELETE"]),
        ]
    )
    side.state.relay = relay.state
    async with serve(side, lifespan="off") as base:
        yield base


def write_csv(path: Path, addresses: Iterable[str]) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["email"])
        out.writerows([a] for a in addresses)
    return path


def meta_emails(relay: Relay, audience_id: str = META_AUDIENCE) -> set[str]:
    rows = relay.fake("meta").audiences.get(audience_id, set())
    return {v for row in rows for k, v in row if k == "EMAIL"}


def x_emails(relay: Relay) -> set[str]:
    return {v for member in relay.fake("x").members(X_AUDIENCE) for k, v in member if k == "email"}


def hashed(*addresses: str) -> set[str]:
    return {sha(a) for a in addresses}


def audience_requests(fake: Any) -> list[Any]:
    return [r for r in fake.requests if "/users" in r.path]


async def sync(relay: Relay, name: str, options: SyncOptions = FAST) -> Any:
    return await sync_audience(SyncEnv.from_relay(relay.state), name, options)


async def test_members_endpoint_feeds_an_api_audience(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", ["a@example.com"])
    audiences = {"pushed": to_both(type="api"), "file": to_both(type="csv", path=str(csv_path))}
    async with relay_with(tmp_path, audiences) as relay, audience_api_base(relay) as base:
        url = f"{base}/v1/audiences/pushed/members"
        body = {
            "add": [
                {"email": "Ann@Example.com", "first_name": "Ann"},
                {"email": ["bob@example.com", "robert@example.com"], "phone": "+1 650 555 0101"},
                {"first_name": "Nobody"},
                {"email": "cy@example.com", "shoe_size": 42},
            ]
        }
        assert (await relay.client.post(url, json=body)).status_code == 401
        response = await relay.client.post(url, json=body, headers=AUTH)
        assert response.status_code == 202
        answer = response.json()
        assert (answer["added"], answer["removed"]) == (2, 0)
        assert [(r["index"], r["op"]) for r in answer["rejected"]] == [(2, "add"), (3, "add")]
        assert "no usable identifier" in answer["rejected"][0]["error"]
        assert "unknown key" in answer["rejected"][1]["error"]
        missing = await relay.client.post(f"{base}/v1/audiences/nope/members", json=body, headers=AUTH)
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        conflict = await relay.client.post(f"{base}/v1/audiences/file/members", json=body, headers=AUTH)
        assert (conflict.status_code, conflict.json()["error"]) == (409, "conflict")
        bad = await relay.client.post(url, json={"members": []}, headers=AUTH)
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_event")
        with relay.state.db.engine.connect() as conn:
            stored = " ".join(str(r) for r in conn.exec_driver_sql("SELECT member FROM audience_api_members"))
        assert "example.com" not in stored and sha("ann@example.com") in stored  # hashed at the door

        run = await sync(relay, "pushed")
        assert run.status == "ok"
        assert meta_emails(relay) == hashed("ann@example.com", "bob@example.com")
        assert x_emails(relay) == hashed("ann@example.com", "bob@example.com", "robert@example.com")

        removal = await relay.client.post(url, json={"remove": [{"email": "BOB@example.com"}]}, headers=AUTH)
        assert removal.status_code == 202 and removal.json() == {"added": 0, "removed": 1, "rejected": []}
        run = await sync(relay, "pushed")
        assert meta_emails(relay) == x_emails(relay) == hashed("ann@example.com")


async def test_deleting_a_user_erases_events_and_removes_them_from_every_audience(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", ["jane.doe@example.com", "bob@example.com"])
    audiences = {"customers": to_both(type="csv", path=str(csv_path))}
    async with relay_with(tmp_path, audiences) as relay, audience_api_base(relay) as base:
        jane = {"email": "Jane.Doe@Example.com", "phone": "+1 (650) 555-1212", "country": "US"}
        bob = {"email": "bob@example.com", "country": "US"}
        events = [
            {"event_name": "Lead", "event_id": "lead-1", "user": jane},
            {"event_name": "Lead", "event_id": "lead-2", "user": {"phone": "6505551212", "country": "US"}},
            {"event_name": "Lead", "event_id": "lead-3", "user": bob},
        ]
        assert (await relay.post_events({"events": events})).status_code == 202
        assert (await sync(relay, "customers")).status == "ok"
        assert sha("jane.doe@example.com") in meta_emails(relay) & x_emails(relay)

        url = f"{base}/v1/users"
        assert (
            await relay.client.request("DELETE", url, json={"email": "jane.doe@example.com"})
        ).status_code == 401
        empty = await relay.client.request("DELETE", url, json={"first_name": "Jane"}, headers=AUTH)
        assert (empty.status_code, empty.json()["error"]) == (400, "invalid_event")
        response = await relay.client.request(
            "DELETE", url, json={"email": "JANE.DOE@example.com", "phone": "+16505551212"}, headers=AUTH
        )
        assert response.status_code == 202
        assert response.json() == {"events": 2, "audiences": 1}
        for event_id, identifiers in (("lead-1", []), ("lead-2", []), ("lead-3", ["country", "em"])):
            trace = (await relay.admin(f"events/{event_id}")).json()
            assert trace["events"][0]["identifiers"] == identifiers

        run = await sync(relay, "customers")  # the file still lists her: she stays out
        assert run.status == "ok" and run.sources["*"].suppressed == 1
        assert meta_emails(relay) == x_emails(relay) == hashed("bob@example.com")


async def test_events_rule_audience_from_ingested_events(tmp_path: Path) -> None:
    audiences = {
        "browsed_not_bought": to_both(
            type="events", include=["ViewContent", "AddToCart"], exclude=["Purchase"], window="7d"
        )
    }
    async with relay_with(tmp_path, audiences) as relay:

        def ev(name: str, who: str, **extra: Any) -> dict[str, Any]:
            return {"event_name": name, "user": {"email": f"{who}@example.com", "country": "US"}, **extra}

        no_ad_data = {"gcm": {"ad_storage": "granted", "ad_user_data": "denied"}}
        events = [
            ev("ViewContent", "ann"),
            ev("AddToCart", "bob"),
            ev("Purchase", "bob"),
            ev("ViewContent", "cy", consent=no_ad_data),  # Meta may use it, X may not
            ev("PageView", "dee"),
        ]
        assert (await relay.post_events({"events": events})).json()["accepted"] == 5
        run = await sync(relay, "browsed_not_bought")
        assert run.status == "ok"
        assert meta_emails(relay) == hashed("ann@example.com", "cy@example.com")
        assert x_emails(relay) == hashed("ann@example.com")

        assert (await relay.post_events(ev("Purchase", "ann"))).status_code == 202
        await sync(relay, "browsed_not_bought")
        assert meta_emails(relay) == hashed("cy@example.com") and x_emails(relay) == set()


async def test_stats_and_metrics_report_the_last_run(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", ["a@example.com", "b@example.com", "not-an-email"])
    async with relay_with(tmp_path, {"customers": to_both(type="csv", path=str(csv_path))}) as relay:
        before = (await relay.admin("stats")).json()["audiences"]
        assert before.get("customers", {}).get("status", "never") == "never"
        await sync(relay, "customers")
        stats = (await relay.admin("stats")).json()["audiences"]["customers"]
        assert stats["status"] == "ok" and stats["source"] == "csv" and stats["schedule"] == "manual"
        assert stats["rows"]["read"] == 3 and stats["rows"]["invalid"] == 1
        assert stats["destinations"]["meta"]["added"] == 2 and stats["destinations"]["x"]["added"] == 2
        metrics = (await relay.client.get(f"{relay.base}/metrics")).text
        line = 'relay_audience_members_synced_total{audience="customers",destination="meta",op="add"} 2.0'
        assert line in metrics


async def test_cli_dry_run_then_sync_with_progress_and_summary(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", ["a@example.com", "b@example.com", "c@example.com", "bad"])
    async with relay_with(tmp_path, {"customers": to_both(type="csv", path=str(csv_path))}) as relay:
        settings = load_settings(relay.config_path)
        lines: list[str] = []
        stream = io.StringIO()

        def cli(**kw: Any) -> int:
            return sync_command(settings, ["customers"], say=lines.append, stream=stream, **kw)

        assert await asyncio.to_thread(cli, dry_run=True) == 0
        assert lines[0].split() == [
            "audience",
            "destination",
            "mode",
            "to",
            "add",
            "to",
            "remove",
            "unchanged",
            "platform",
            "invalid",
            "status",
        ]
        assert lines[1].split()[:5] == ["customers", "meta", "incremental", "3", "0"]
        assert not audience_requests(relay.fake("meta")) and not audience_requests(relay.fake("x"))
        lines.clear()
        assert await asyncio.to_thread(cli) == 0
        assert lines[1].split()[:5] == ["customers", "meta", "incremental", "3", "0"]
        assert lines[2].split()[-1] == "ok"
        assert any("4 rows read, 3 members, 1 invalid rows" in line for line in lines)
        assert any("not an email address" in line for line in lines)
        assert "read 4 rows" in stream.getvalue() and "meta [" in stream.getvalue()
        assert meta_emails(relay) == hashed("a@example.com", "b@example.com", "c@example.com")
        with pytest.raises(ConfigError):
            sync_command(settings, ["nope"], say=lines.append, stream=stream)


async def test_scheduler_runs_scheduled_audiences_once_across_workers(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "c.csv", ["a@example.com", "b@example.com"])
    audiences = {
        "often": {**to_both(type="csv", path=str(csv_path)), "schedule": "1s"},
        "by_hand": {**to_both(type="csv", path=str(csv_path)), "schedule": "manual"},
    }
    async with relay_with(tmp_path, audiences) as relay:
        meta = relay.fake("meta")
        meta.script(ScriptedResponse(delay=0.3, passthrough=True))  # a slow first call: runs would overlap
        workers = [
            AudienceScheduler(SyncEnv.from_relay(relay.state), options=FAST, refresh_seconds=0.1)
            for _ in range(2)
        ]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            await relay.wait_for(lambda: len(meta_emails(relay)) == 2, 10, "the first scheduled run")
            write_csv(csv_path, ["a@example.com", "b@example.com", "c@example.com"])
            await relay.wait_for(lambda: len(meta_emails(relay)) == 3, 10, "the next scheduled run")
            await relay.wait_for(
                lambda: relay.state.extras.get("audience_status", {}).get("often", {}).get("status") == "ok",
                5,
                "status",
            )
        finally:
            for w in workers:
                w.stop()
            await asyncio.gather(*tasks)
        posted = [len(r.json["payload"]["data"]) for r in audience_requests(meta)]
        assert sum(posted) == 3  # never two runs at once: each member was sent once
        status = relay.state.extras["audience_status"]
        assert status["by_hand"]["status"] == "never" and status["by_hand"]["next_run_at"] is None
        assert META_AUDIENCE in meta.audiences and not any(r.path.endswith("/by_hand") for r in meta.requests)


async def test_a_run_stopped_mid_batch_resends_at_most_that_batch(tmp_path: Path) -> None:
    addresses = [f"p{i}@example.com" for i in range(7)]
    csv_path = write_csv(tmp_path / "c.csv", addresses)
    audience = {
        "source": {"type": "csv", "path": str(csv_path)},
        "destinations": {"meta": {"audience_id": META_AUDIENCE}},
    }
    async with relay_with(tmp_path, {"customers": audience}) as relay:
        meta = relay.fake("meta")
        slow = ScriptedResponse(delay=0.8, passthrough=True)
        meta.script(ScriptedResponse(passthrough=True), ScriptedResponse(passthrough=True), slow)
        small = SyncOptions(attempts=1, batch_size=2)
        task = asyncio.create_task(sync(relay, "customers", small))
        await relay.wait_for(lambda: len(audience_requests(meta)) == 3, 10, "the third batch in flight")
        task.cancel()  # the relay stops; the platform still applies the batch it received
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relay.wait_for(lambda: len(meta_emails(relay)) == 6, 5, "the platform to apply batch 3")
        stats = (await relay.admin("stats")).json()["audiences"]["customers"]
        assert stats["status"] == "interrupted"
        meta.requests.clear()
        run = await sync(relay, "customers", small)
        assert run.status == "ok"
        sent = [len(r.json["payload"]["data"]) for r in audience_requests(meta)]
        assert sent == [2, 1]  # batch 3 once more (its acknowledgement was lost), then batch 4
        assert meta_emails(relay) == hashed(*addresses)
