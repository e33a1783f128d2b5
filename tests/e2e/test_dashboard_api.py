"""The dashboard's admin endpoints end to end: events posted over HTTP to a real relay (uvicorn, SQLite
file, fake Meta), then the time series, coverage, paginated deliveries, connectors and audiences read back."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from relay.audiences import SyncEnv, SyncOptions, sync_audience
from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import API_KEY, Relay, purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

COUNTRY = {"country_header": "CF-IPCountry"}
FBP = "fb.1.1596403881668.1116446470"


@contextlib.asynccontextmanager
async def relay_at(tmp_path: Path, **kw: Any) -> AsyncIterator[Relay]:
    async with run_relay(tmp_path, server=COUNTRY, **kw) as relay:
        yield relay


async def send(relay: Relay, event: dict[str, Any], country: str = "US") -> None:
    response = await relay.post_events(event, headers={"cf-ipcountry": country})
    assert response.status_code == 202, response.text


def bare(event_id: str, **user: Any) -> dict[str, Any]:
    """A purchase carrying only ``user``'s identifiers (no email, phone or IP unless given)."""
    return {"event_name": "Lead", "event_id": event_id, "action_source": "website", "user": user}


async def test_timeseries_counts_each_outcome_in_every_window(tmp_path: Path) -> None:
    async with relay_at(tmp_path) as relay:
        for i in range(3):
            await send(relay, purchase(f"ts-{i}"))
        await send(relay, purchase("ts-eu"), country="DE")  # consent: denied in the EU by default
        for i in range(3):
            await relay.wait_status(f"ts-{i}", "meta", "delivered")
        await relay.wait_status("ts-eu", "meta", "skipped")
        sizes = {"1h": (60, 60), "24h": (96, 900), "7d": (84, 7200)}
        for window, (n, width) in sizes.items():
            response = await relay.admin("timeseries", params={"window": window})
            assert response.status_code == 200
            data = response.json()
            assert (data["window"], data["bucket_seconds"], len(data["buckets"])) == (window, width, n)
            assert all(b - a == width for a, b in zip(data["buckets"], data["buckets"][1:], strict=False))
            assert data["end"] - data["start"] == n * width
            assert sum(data["received"]) == 4 and len(data["received"]) == n
            meta = data["connectors"]["meta"]
            assert sum(meta["status"]["delivered"]) == 3 and sum(meta["status"]["skipped"]) == 1
            assert sum(meta["status"]["dead"]) == 0
            assert (sum(meta["consent"]["allow"]), sum(meta["consent"]["deny"])) == (3, 1)
            latency = meta["latency"]
            assert sum(latency["delivered"]) == 3
            p50 = [v for v in latency["p50"] if v is not None]
            top = [v for v in latency["max"] if v is not None]
            assert p50 and 0 <= min(p50) and max(p50) <= max(top) < 10
        assert sum((await relay.admin("timeseries")).json()["received"]) == 4  # 24 h by default


async def test_dead_deliveries_show_in_the_series(tmp_path: Path) -> None:
    async with relay_at(tmp_path, delivery={"max_attempts": 1}) as relay:
        relay.fake("meta").script(
            ScriptedResponse(status=400, body={"error": {"message": "bad", "code": 100}})
        )
        await send(relay, purchase("dead-1"))
        await relay.wait_status("dead-1", "meta", "dead")
        meta = (await relay.admin("timeseries", params={"window": "1h"})).json()["connectors"]["meta"]
        assert sum(meta["status"]["dead"]) == 1 and sum(meta["status"]["delivered"]) == 0
        assert sum(meta["latency"]["delivered"]) == 0 and set(meta["latency"]["p50"]) == {None}


async def test_coverage_matches_the_identifiers_sent(tmp_path: Path) -> None:
    async with relay_at(tmp_path, run_worker=False) as relay:
        await send(relay, purchase("cov-full"))  # email, phone, IP and user agent
        await send(relay, bare("cov-id", external_id="cust-7", fbp=FBP))
        await send(relay, bare("cov-ip", ip="203.0.113.7", user_agent="Mozilla/5.0 (cov)", email="a@b.co"))
        await send(relay, purchase("cov-eu"), country="FR")  # refused by consent: not counted
        response = await relay.admin("coverage", params={"window": "1h"})
        assert response.status_code == 200
        meta = response.json()["connectors"]["meta"]
        assert meta["events"] == 3
        assert meta["counts"] == {"email": 2, "phone": 1, "external_id": 1, "fbp_fbc": 1, "ip_ua": 2}
        assert meta["shares"]["email"] == round(2 / 3, 4) and meta["shares"]["fbp_fbc"] == round(1 / 3, 4)
        assert "example.com" not in response.text.lower()
        bad = await relay.admin("coverage", params={"window": "2h"})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request")


async def test_deliveries_page_backwards_with_a_cursor_and_filter(tmp_path: Path) -> None:
    async with relay_at(tmp_path, run_worker=False) as relay:
        for i in range(7):
            await send(relay, purchase(f"page-{i}"))
        await send(relay, bare("lead-1", email="x@y.co"))
        everything = await relay.deliveries()
        assert len(everything) == 8
        seen: list[int] = []
        before: int | None = None
        for _ in range(5):
            params: dict[str, Any] = {"limit": 3, **({"before": before} if before else {})}
            page = (await relay.admin("deliveries", params=params)).json()
            seen += [d["id"] for d in page["items"]]
            assert all("received_at" in d and "next_attempt_at" in d for d in page["items"])
            before = page["next_before"]
            if before is None:
                break
        assert seen == sorted(seen, reverse=True) == [d["id"] for d in everything]
        leads = (await relay.admin("deliveries", params={"event_name": "Lead"})).json()
        assert [d["event_id"] for d in leads["items"]] == ["lead-1"] and leads["next_before"] is None
        for bad in ({"before": "x"}, {"before": "-1"}, {"event_name": "a\x01"}):
            response = await relay.admin("deliveries", params=bad)
            assert (response.status_code, response.json()["error"]) == (400, "invalid_event")


async def test_connector_error_is_marked_resolved_after_a_later_success(tmp_path: Path) -> None:
    async with relay_at(tmp_path) as relay:
        relay.fake("meta").script(ScriptedResponse(status=500, body={"error": {"message": "down"}}))
        await send(relay, purchase("flaky-1"))
        await relay.wait_status("flaky-1", "meta", "delivered")  # the retry succeeds
        (meta,) = (await relay.admin("connectors")).json()["items"]
        assert meta["last_error"] and meta["last_error_at"] <= meta["last_success_at"]
        assert meta["last_error_resolved"] is True


async def test_audiences_report_sizes_and_last_run_changes(tmp_path: Path) -> None:
    audiences = {
        "pushed": {
            "source": {"type": "api"},
            "schedule": "manual",
            "destinations": {"meta": {"audience_id": "77"}},
        }
    }
    async with relay_at(tmp_path, run_worker=False, audiences=audiences) as relay:
        before = (await relay.admin("audiences")).json()["items"]
        assert before[0]["status"] == "never" and before[0]["destinations"][0]["size"] == 0
        url = f"{relay.base}/v1/audiences/pushed/members"
        auth = {"authorization": f"Bearer {API_KEY}"}
        add = {"add": [{"email": f"p{i}@example.com"} for i in range(3)]}
        assert (await relay.client.post(url, json=add, headers=auth)).status_code == 202
        env = SyncEnv.from_relay(relay.state)
        assert (await sync_audience(env, "pushed", SyncOptions(attempts=1))).status == "ok"
        remove = {"remove": [{"email": "p0@example.com"}]}
        assert (await relay.client.post(url, json=remove, headers=auth)).status_code == 202
        assert (await sync_audience(env, "pushed", SyncOptions(attempts=1))).status == "ok"
        response = await relay.admin("audiences")
        (item,) = response.json()["items"]
        assert (item["name"], item["source"], item["status"]) == ("pushed", "api", "ok")
        (meta,) = item["destinations"]
        assert (meta["name"], meta["size"], meta["added"], meta["removed"]) == ("meta", 2, 0, 1)
        assert "example.com" not in response.text


async def test_report_endpoints_need_the_admin_token(tmp_path: Path) -> None:
    async with relay_at(tmp_path, run_worker=False) as relay:
        for path in ("timeseries", "coverage", "audiences"):
            response = await relay.client.get(f"{relay.base}/admin/api/{path}")
            assert (response.status_code, response.json()["error"]) == (401, "unauthorized")


def test_every_admin_api_route_is_in_the_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    source = (root / "relay" / "app.py").read_text(encoding="utf-8")
    admin = [p.replace(":path}", "}") for p in re.findall(r'Route\("(/admin/api/[^"]+)"', source)]
    assert {"/admin/api/timeseries", "/admin/api/coverage", "/admin/api/audiences"} <= set(admin)
    missing = [p for p in admin if f" {p}`" not in readme and f" {p}?" not in readme]
    assert not missing, f"admin routes missing from the README's HTTP API table: {missing}"
