"""Product catalogs and lookalike audiences end to end: a real relay (uvicorn, SQLite file, the sandbox's
fake Graph API keeping catalog items and lookalikes), the sync, the CLI, the scheduler, the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.meta.catalog import MetaCatalog
from connectors.meta.lookalike import MetaLookalikes
from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.audiences.lookalike import LookalikeEnv, ensure_lookalikes
from relay.catalog.sync import CatalogEnv, CatalogOptions, sync_catalog
from relay.cli import main
from tests.e2e.harness import Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

CATALOG_ID, ACCOUNT, AUDIENCE_ID = "880000000000001", "4200000001", "23840000000000077"
TOKEN = "sandbox-meta-token"
HEADER = "id,title,description,price,availability,link,image_link,brand\n"
FAST = CatalogOptions(poll_interval=0.05, poll_timeout=5)


def product_line(item_id: str, price: str = "19.99 USD", availability: str = "in stock") -> str:
    url = f"https://shop.example/p/{item_id}"
    return f"{item_id},Mug {item_id},A mug,{price},{availability},{url},{url}.jpg,Acme\n"


def meta_block(port: int) -> dict[str, Any]:
    return {
        "type": "meta",
        "pixel_id": "1234567890",
        "access_token": TOKEN,
        "api_base": f"http://127.0.0.1:{port}/sandbox/meta",
        "catalog_id": CATALOG_ID,
        "ad_account_id": f"act_{ACCOUNT}",
        "consent": {"tcf_purposes": [1, 3, 4, 7], "us_opt_out": "ldu"},
    }


@contextlib.asynccontextmanager
async def relay_with(tmp_path: Path, csv_text: str, **kw: Any) -> AsyncIterator[tuple[Relay, Path]]:
    from relay.testing import free_port

    port = free_port()
    feed = tmp_path / "products.csv"
    feed.write_text(csv_text)
    catalogs = {
        "shop": {
            "source": {"type": "csv", "path": str(feed)},
            "destinations": ["meta"],
            **kw.pop("catalog", {}),
        }
    }
    async with run_relay(
        tmp_path, port=port, connectors={"meta": meta_block(port)}, catalogs=catalogs, **kw
    ) as relay:
        yield relay, feed


def fails_once(method: Callable[..., Any], error: type[Exception]) -> Callable[..., Any]:
    """``method``, raising ``error`` on its first call (a connector bug) and itself after."""
    calls: list[int] = []

    async def patched(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error("a bug in the connector")
        return await method(*args, **kwargs)

    return patched


def env_of(relay: Relay) -> CatalogEnv:
    state = relay.state
    return CatalogEnv(state.settings, state.db, state.connectors, state.client)


def batch_calls(relay: Relay) -> int:
    return sum(1 for r in relay.fake("meta").requests if r.path.endswith("/items_batch"))


async def test_incremental_sync_sends_only_changes_and_deletes_what_left_the_feed(tmp_path: Path) -> None:
    text = HEADER + product_line("sku-1") + product_line("sku-2") + product_line("sku-3", price="cheap")
    async with relay_with(tmp_path, text, run_worker=False) as (relay, feed):
        items = relay.fake("meta").catalogs.items
        said: list[str] = []
        run = await sync_catalog(env_of(relay), "shop", FAST, said.append)
        assert run.status == "ok", run.error
        assert (run.destinations[0].created, run.source["invalid"]) == (2, 1)
        assert run.source["invalid_samples"] == ["row 4: price: 'cheap' is not an amount such as '19.99 USD'"]
        assert sorted(items[CATALOG_ID]) == ["sku-1", "sku-2"]
        assert (
            items[CATALOG_ID]["sku-1"]["price"] == "19.99 USD"
            and items[CATALOG_ID]["sku-1"]["brand"] == "Acme"
        )
        assert any("batch 1/1" in line for line in said)

        again = await sync_catalog(env_of(relay), "shop", FAST)
        assert (again.destinations[0].unchanged, batch_calls(relay)) == (2, 1)  # nothing sent the second time

        feed.write_text(HEADER + product_line("sku-1", price="17.00 USD") + product_line("sku-4"))
        third = await sync_catalog(env_of(relay), "shop", FAST)
        d = third.destinations[0]
        assert (d.created, d.updated, d.deleted, d.unchanged) == (1, 1, 1, 0)
        assert (
            sorted(items[CATALOG_ID]) == ["sku-1", "sku-4"]
            and items[CATALOG_ID]["sku-1"]["price"] == "17.00 USD"
        )

        state = (await relay.client.get(f"{relay.base}/sandbox/meta/_state")).json()
        assert state["catalogs"] == {CATALOG_ID: 2}  # the fake's /_state page shows the items
    stored = sqlite3.connect(tmp_path / "relay.db").execute("SELECT summary FROM catalog_syncs").fetchone()[0]
    assert TOKEN not in stored


async def test_an_invalid_row_keeps_its_item_and_refused_items_are_reported(tmp_path: Path) -> None:
    async with relay_with(tmp_path, HEADER + product_line("sku-1") + product_line("sku-2")) as (relay, feed):
        fake = relay.fake("meta").catalogs
        fake.refuse["sku-2"] = "Invalid image: could not download image_link"
        run = await sync_catalog(env_of(relay), "shop", FAST)
        d = run.destinations[0]
        assert (run.status, d.created, d.refused) == ("ok", 1, 1)
        assert d.samples == {"sku-2": "Invalid image: could not download image_link"}
        feed.write_text(HEADER + product_line("sku-1", price="oops") + product_line("sku-2"))
        fake.refuse.clear()
        second = await sync_catalog(env_of(relay), "shop", FAST)
        # sku-1's row is invalid now: its item is kept, not deleted; sku-2 is not resent (unchanged)
        assert (second.destinations[0].deleted, second.destinations[0].unchanged) == (0, 1)
        assert "sku-1" in fake.items[CATALOG_ID] and "sku-2" not in fake.items[CATALOG_ID]
        feed.write_text(
            HEADER + product_line("sku-1", price="oops") + product_line("sku-2", price="9.00 USD")
        )
        third = await sync_catalog(env_of(relay), "shop", FAST)
        # sku-2 changed: sent again, and taken this time
        assert (third.destinations[0].updated, third.destinations[0].refused) == (1, 0)
        assert fake.items[CATALOG_ID]["sku-2"]["price"] == "9.00 USD"


async def test_a_batch_the_platform_never_finishes_fails_the_run_and_is_resent(tmp_path: Path) -> None:
    async with relay_with(tmp_path, HEADER + product_line("sku-1"), run_worker=False) as (relay, _):
        relay.fake("meta").catalogs.polls_before_finished = 10**6
        run = await sync_catalog(env_of(relay), "shop", CatalogOptions(poll_interval=0.05, poll_timeout=0.3))
        assert run.status == "failed" and "not processed after" in (run.error or "")
        relay.fake("meta").catalogs.polls_before_finished = 0
        retry = await sync_catalog(env_of(relay), "shop", FAST)
        assert (retry.status, retry.destinations[0].created) == ("ok", 1)


async def test_cli_dry_run_then_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with relay_with(
        tmp_path, HEADER + product_line("sku-1") + product_line("sku-2"), run_worker=False
    ) as (relay, _):
        config = str(relay.config_path)
        assert await asyncio.to_thread(main, ["catalog", "sync", "--dry-run", "--config", config]) == 0
        assert CATALOG_ID not in relay.fake("meta").catalogs.items
        assert await asyncio.to_thread(main, ["catalog", "sync", "shop", "--config", config]) == 0
        assert len(relay.fake("meta").catalogs.items[CATALOG_ID]) == 2
        assert await asyncio.to_thread(main, ["catalog", "sync", "nope", "--config", config]) == 2
    out, err = capsys.readouterr()
    assert "catalog  destination  created" in out and "dry-run" in out
    assert re.search(r"shop\s+meta\s+2\s+0\s+0\s+0\s+0\s+ok", out)
    assert "no catalog named 'nope'" in err and "to create" in err
    assert TOKEN not in out + err


async def test_scheduled_sync_runs_inside_serve(tmp_path: Path) -> None:
    async with relay_with(tmp_path, HEADER + product_line("sku-1"), catalog={"schedule": "1h"}) as (relay, _):
        items = relay.fake("meta").catalogs.items
        await relay.wait_for(lambda: len(items.get(CATALOG_ID, {})) == 1, 15, "the scheduled catalog run")
        body = (await relay.admin("catalog")).json()
        shop = body["catalogs"][0]
        assert shop["name"] == "shop" and shop["destinations"][0]["catalog_id"] == CATALOG_ID


async def test_content_ids_are_checked_against_the_synced_catalog(tmp_path: Path) -> None:
    async with relay_with(tmp_path, HEADER + product_line("sku-1") + product_line("sku-2")) as (relay, _):
        await sync_catalog(env_of(relay), "shop", FAST)
        view = purchase("v-1", event_name="ViewContent", custom={"content_ids": ["sku-1", "ghost"]})
        buy = purchase(
            "p-1", custom={"value": 5, "currency": "USD", "contents": [{"id": "sku-2", "quantity": 1}]}
        )
        buy2 = purchase("p-2", custom={"value": 5, "currency": "USD", "content_ids": ["sku-9"]})
        assert (await relay.post_events({"events": [view, buy, buy2]})).status_code == 202
        await relay.wait_status("p-2", "meta", "delivered")
        response = await relay.admin("catalog", params={"window": "1h"})
        assert response.status_code == 200
        checked = response.json()["content_ids"]
        assert checked["connectors"]["meta"]["ViewContent"]["missing_share"] == 0.5
        purchases = checked["connectors"]["meta"]["Purchase"]
        assert (purchases["found"], purchases["missing"], purchases["missing_samples"]) == (1, 1, ["sku-9"])
        assert "50% of Purchase content_ids sent to meta are not in your catalog" in checked["warnings"]
        assert (await relay.admin("catalog", params={"window": "1y"})).status_code == 400
        assert (await relay.client.get(f"{relay.base}/admin/api/catalog")).status_code == 401


async def test_lookalikes_wait_for_the_origin_then_are_created_once(tmp_path: Path) -> None:
    members = tmp_path / "buyers.csv"
    members.write_text("email\n" + "".join(f"user{i}@example.com\n" for i in range(5)))
    audiences = {
        "buyers": {
            "source": {"type": "csv", "path": str(members)},
            "destinations": {"meta": {"audience_id": AUDIENCE_ID}},
            "lookalike": [
                {"country": "US", "ratio": 0.01},
                {"country": "gb", "ratio": 0.05, "name": "UK buyers 5%"},
            ],
        }
    }
    async with relay_with(tmp_path, HEADER, audiences=audiences, run_worker=False) as (relay, _):
        state = relay.state
        env = LookalikeEnv(state.settings, state.db, state.connectors)
        fake = relay.fake("meta").catalogs
        waiting = await ensure_lookalikes(env)
        assert [r["status"] for r in waiting] == ["waiting", "waiting"] and not fake.lookalikes
        before = (await relay.admin("catalog")).json()["lookalikes"]["buyers"]
        assert [(x["name"], x["status"]) for x in before][1] == ("UK buyers 5%", "pending")

        sync = SyncEnv(state.settings, state.db, state.connectors, state.metrics)
        assert (await sync_audience(sync, "buyers", SyncOptions(attempts=1))).status == "ok"
        made = await ensure_lookalikes(env)
        assert [r["status"] for r in made] == ["created", "created"]
        listed = fake.lookalikes[f"act_{ACCOUNT}"]
        assert sorted(x["name"] for x in listed) == ["UK buyers 5%", "buyers lookalike US 1%"]
        assert {x["lookalike_spec"]["origin"][0]["id"] for x in listed} == {AUDIENCE_ID}

        again = await ensure_lookalikes(env)  # recorded: reused without a platform call
        calls = [r for r in relay.fake("meta").requests if r.path.endswith("/customaudiences")]
        assert [r["status"] for r in again] == ["created", "created"]
        assert len(calls) == 3  # one listing and two creates, all before this call
        with sqlite3.connect(tmp_path / "relay.db") as db:
            db.execute(
                "DELETE FROM lookalike_audiences"
            )  # the relay forgot: found on the platform, not duplicated
        found = await ensure_lookalikes(env)
        assert [r["status"] for r in found] == ["found", "found"] and len(listed) == 2
        shown = (await relay.admin("catalog")).json()["lookalikes"]["buyers"]
        assert {(x["country"], x["ratio"], x["status"]) for x in shown} == {
            ("US", 0.01, "found"),
            ("GB", 0.05, "found"),
        }
        config = str(relay.config_path)
        assert await asyncio.to_thread(main, ["lookalikes", "--config", config]) == 0
        assert len(listed) == 2


async def test_a_connector_bug_on_one_lookalike_fails_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = tmp_path / "buyers.csv"
    members.write_text("email\n" + "".join(f"user{i}@example.com\n" for i in range(5)))
    audiences = {
        name: {
            "source": {"type": "csv", "path": str(members)},
            "destinations": {"meta": {"audience_id": audience_id}},
            "lookalike": [{"country": "US", "ratio": 0.01}],
        }
        for name, audience_id in (("buyers", AUDIENCE_ID), ("fans", "23840000000000078"))
    }
    async with relay_with(tmp_path, HEADER, audiences=audiences, run_worker=False) as (relay, _):
        state = relay.state
        sync = SyncEnv(state.settings, state.db, state.connectors, state.metrics)
        for name in audiences:
            assert (await sync_audience(sync, name, SyncOptions(attempts=1))).status == "ok"
        # a bug in the connector for buyers' lookalike alone (its listing is read first)
        monkeypatch.setattr(MetaLookalikes, "list", fails_once(MetaLookalikes.list, AttributeError))
        env = LookalikeEnv(state.settings, state.db, state.connectors)
        rows = await ensure_lookalikes(env)
        assert [(r["audience"], r["status"], r["error"]) for r in rows] == [
            ("buyers", "failed", "connector error: AttributeError"),
            ("fans", "created", None),
        ]
        assert [r["status"] for r in await ensure_lookalikes(env)] == ["created", "created"]  # tried again


async def test_a_run_lock_row_edited_by_hand_costs_its_own_job_only(tmp_path: Path) -> None:
    members = tmp_path / "buyers.csv"
    members.write_text("email\nuser1@example.com\n")
    audiences = {
        name: {
            "source": {"type": "csv", "path": str(members)},
            "destinations": {"meta": {"audience_id": audience_id}},
        }
        for name, audience_id in (("buyers", AUDIENCE_ID), ("fans", "23840000000000078"))
    }
    async with relay_with(
        tmp_path, HEADER + product_line("sku-1"), audiences=audiences, run_worker=False
    ) as (
        relay,
        _,
    ):
        state = relay.state
        sync = SyncEnv(state.settings, state.db, state.connectors, state.metrics)
        for name in audiences:
            assert (await sync_audience(sync, name, SyncOptions(attempts=1))).status == "ok"
        assert (await sync_catalog(env_of(relay), "shop", FAST)).status == "ok"
        with sqlite3.connect(tmp_path / "relay.db") as db:  # edited by hand, a restored backup
            db.execute("UPDATE audience_syncs SET summary = '{not json' WHERE audience = 'buyers'")
            db.execute("UPDATE catalog_syncs SET summary = '[1, 2]'")
            db.execute("UPDATE audience_syncs SET started_at = 'x', owner = 'w9', lease_until = 'y'")
        stats = await relay.admin("stats")
        assert stats.status_code == 200, stats.text
        shown = stats.json()["audiences"]
        assert shown["buyers"]["status"] == "ok" and "destinations" not in shown["buyers"]
        assert shown["buyers"]["next_run_at"] is None  # schedule: manual
        assert shown["fans"]["destinations"]["meta"]["added"] == 1
        catalog = await relay.admin("catalog")
        assert catalog.status_code == 200, catalog.text
        assert catalog.json()["catalogs"][0]["last_run"] == {}


async def test_a_connector_bug_on_one_catalog_destination_fails_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay.testing import free_port

    port = free_port()
    feed = tmp_path / "products.csv"
    feed.write_text(HEADER + product_line("sku-1"))
    connectors = {"meta": meta_block(port), "meta_eu": {**meta_block(port), "catalog_id": "880000000000002"}}
    catalogs = {"shop": {"source": {"type": "csv", "path": str(feed)}, "destinations": ["meta", "meta_eu"]}}
    async with run_relay(
        tmp_path, port=port, connectors=connectors, catalogs=catalogs, run_worker=False
    ) as relay:
        # a bug in the connector for the first destination's batch alone
        monkeypatch.setattr(MetaCatalog, "send", fails_once(MetaCatalog.send, TypeError))
        run = await sync_catalog(env_of(relay), "shop", FAST)
        outcomes = {d.destination: (d.status, d.error, d.created) for d in run.destinations}
        assert outcomes == {
            "meta": ("failed", "connector error: TypeError", 0),
            "meta_eu": ("ok", None, 1),
        }
        assert run.status == "partial"
        assert set(relay.fake("meta").catalogs.items["880000000000002"]) == {"sku-1"}


async def test_a_json_feed_url_is_read_and_its_key_never_recorded(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from relay.testing import free_port, serve

    async def feed(request: Any) -> Response:
        if request.query_params.get("key") != "feed-secret-123":
            return Response(status_code=403)
        url = "https://shop.example/p/a"
        product = {"id": "a", "title": "A", "description": "d", "price": 3, "currency": "usd"}
        return JSONResponse(
            {"products": [{**product, "availability": "in stock", "link": url, "image_link": url}]}
        )

    port = free_port()
    async with serve(Starlette(routes=[Route("/feed.json", feed)])) as feed_base:
        catalogs = {"shop": {"source": {"type": "url", "url": f"{feed_base}/feed.json?key=feed-secret-123"}}}
        catalogs["shop"]["destinations"] = ["meta"]
        async with run_relay(
            tmp_path, port=port, connectors={"meta": meta_block(port)}, catalogs=catalogs, run_worker=False
        ) as relay:
            run = await sync_catalog(env_of(relay), "shop", FAST)
            assert (run.status, run.destinations[0].created) == ("ok", 1)
            assert relay.fake("meta").catalogs.items[CATALOG_ID]["a"]["price"] == "3.00 USD"
            broken = relay.state.settings.catalogs["shop"].source.model_copy(
                update={"url": f"{feed_base}/feed.json?key=wrong-secret-456"}
            )
            settings = relay.state.settings.model_copy(
                update={
                    "catalogs": {
                        "shop": relay.state.settings.catalogs["shop"].model_copy(update={"source": broken})
                    }
                }
            )
            failed = await sync_catalog(
                CatalogEnv(settings, relay.state.db, relay.state.connectors, relay.state.client), "shop", FAST
            )
            assert failed.status == "failed" and "HTTP 403" in (failed.error or "")
            assert "wrong-secret-456" not in (failed.error or "")
