"""The spine end to end: HTTP in, outbox on a real SQLite file, worker, the sandbox's fake Meta over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay.sandbox.base import ScriptedResponse
from tests.e2e.harness import purchase, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def graph_error(code: int, message: str, status: int = 400, **extra: object) -> ScriptedResponse:
    body = {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC", **extra}
    }
    return ScriptedResponse(status=status, body=body)


async def test_posted_event_is_delivered_once(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        response = await relay.post_events(purchase("order-1"))
        assert response.status_code == 202
        assert response.json() == {"accepted": 1, "rejected": []}
        delivered = await relay.wait_status("order-1", "meta", "delivered")
        assert delivered["attempts"] == 1
        meta = relay.fake("meta")
        [sent] = meta.events
        assert sent["event_id"] == "order-1"
        assert sent["user_data"]["em"] == [hashlib.sha256(b"jane.doe@example.com").hexdigest()]
        assert sent["user_data"]["client_ip_address"] == "203.0.113.9"
        await asyncio.sleep(0.3)
        assert len(meta.requests) == 1 and len(meta.events) == 1  # exactly once


async def test_server_errors_and_timeouts_are_retried_then_delivered_once(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        meta = relay.fake("meta")
        meta.script(
            ScriptedResponse(
                status=500, body={"error": {"message": "Service temporarily unavailable", "code": 2}}
            ),
            ScriptedResponse(delay=1.0),  # longer than the 0.5 s request timeout
            graph_error(1, "An unknown error occurred", status=500),
        )
        await relay.post_events(purchase("order-2"))
        delivered = await relay.wait_status("order-2", "meta", "delivered")
        assert delivered["attempts"] == 4
        assert [e["event_id"] for e in meta.events] == ["order-2"]
        trace = (await relay.admin("events/order-2")).json()
        [delivery] = trace["events"][0]["deliveries"]
        log = delivery["attempt_log"]
        assert [a["outcome"] for a in log] == ["retryable", "retryable", "retryable", "delivered"]
        assert log[0]["status_code"] == 500 and log[-1]["status_code"] == 200
        assert "timeout" in (log[1]["response"] or "").lower() or "Timeout" in (log[1]["response"] or "")


async def test_rate_limit_is_waited_out_then_replay_delivers(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        meta = relay.fake("meta")
        meta.script(graph_error(4, "Application request limit reached", status=400))
        before = time.time()
        await relay.post_events(purchase("order-3"))

        async def retried() -> dict | None:
            [d] = await relay.deliveries(event_id="order-3")
            return d if d["status"] == "pending" and d["attempts"] == 1 else None

        pending = await relay.wait_for(retried, what="a stored retry")
        assert pending["next_attempt_at"] >= before + 290  # long backoff for Meta rate limits
        assert "request limit" in pending["last_error"]
        requeued = await relay.admin("replay", "POST", json={"status": "pending", "event_id": "order-3"})
        assert requeued.json() == {"requeued": 1}
        await relay.wait_status("order-3", "meta", "delivered")
        assert [e["event_id"] for e in meta.events] == ["order-3"]


async def test_permanent_error_goes_dead_with_the_platform_message(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        meta = relay.fake("meta")
        meta.script(graph_error(100, "Invalid parameter", error_subcode=2804050))
        await relay.post_events(purchase("order-4"))
        dead = await relay.wait_status("order-4", "meta", "dead")
        assert "Invalid parameter" in dead["last_error"] and "2804050" in dead["last_error"]
        assert dead["attempts"] == 1
        requests_then = len(meta.requests)
        await asyncio.sleep(0.5)
        assert len(meta.requests) == requests_then  # no further attempts
        assert meta.events == []
        # the CLI replays it: the platform now accepts the event
        result = subprocess.run(
            [sys.executable, "-m", "relay", "replay", "--status", "dead", "--config", str(relay.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "requeued 1"
        await relay.wait_status("order-4", "meta", "delivered")
        assert [e["event_id"] for e in meta.events] == ["order-4"]


async def test_auth_error_pauses_the_connector_until_resumed(tmp_path: Path) -> None:
    async with run_relay(tmp_path) as relay:
        meta = relay.fake("meta")
        meta.script(graph_error(190, "Error validating access token: Session has expired", error_subcode=463))
        await relay.post_events(purchase("order-5"))

        async def paused() -> dict | None:
            items = (await relay.admin("connectors")).json()["items"]
            return next((c for c in items if c["name"] == "meta" and c["state"] == "paused"), None)

        state = await relay.wait_for(paused, what="the connector to pause")
        assert "access token" in state["reason"]
        assert "sandbox-meta-token" not in str(state)
        [d] = await relay.deliveries(event_id="order-5")
        assert d["status"] == "pending"  # kept, not lost, while paused
        await asyncio.sleep(0.3)
        assert len(meta.requests) == 1  # nothing sent while paused
        resumed = await relay.admin("connectors/meta/resume", "POST")
        assert resumed.json() == {"state": "active"}
        await relay.wait_status("order-5", "meta", "delivered")


def _worker(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "relay", "worker", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_worker_killed_mid_batch_is_recovered_by_the_lease(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        meta = relay.fake("meta")
        # the first request hangs: the worker is killed while it waits for the answer
        meta.script(ScriptedResponse(delay=3.0, status=500))
        await relay.post_events(purchase("order-6"))
        first = _worker(relay.config_path)
        try:
            await relay.wait_for(
                lambda: len(meta.requests) == 1, timeout=20, what="the first worker's request"
            )
            [d] = await relay.deliveries(event_id="order-6")
            assert d["status"] == "in_flight"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        second = _worker(relay.config_path)
        try:
            await relay.wait_status("order-6", "meta", "delivered", timeout=20)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0  # a graceful stop
        assert [e["event_id"] for e in meta.events] == ["order-6"]
