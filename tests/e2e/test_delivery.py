"""The spine end to end: HTTP in, outbox on a real SQLite file, worker, the sandbox's fake Meta over HTTP."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay.delivery.worker import PAUSED_CHECK_SECONDS
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
        # a barrier instead of a pause: the worker takes meta's deliveries in order, so once an event
        # posted afterwards is delivered, a second copy of order-1 would have gone out before it
        await relay.post_events(purchase("order-1-after"))
        await relay.wait_status("order-1-after", "meta", "delivered")
        assert [e["event_id"] for e in meta.events] == ["order-1", "order-1-after"]  # exactly once
        assert len(meta.requests) == 2


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
        # no further attempts: an event posted after the dead one is delivered, and alone
        await relay.post_events(purchase("order-4-after"))
        await relay.wait_status("order-4-after", "meta", "delivered")
        assert len(meta.requests) == requests_then + 1
        assert [e["event_id"] for e in meta.events] == ["order-4-after"]
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
        assert [e["event_id"] for e in meta.events] == ["order-4-after", "order-4"]


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
        # an event arriving while paused waits too
        assert (await relay.post_events(purchase("order-5-paused"))).status_code == 202
        for event_id in ("order-5", "order-5-paused"):
            [d] = await relay.deliveries(event_id=event_id)
            assert d["status"] == "pending"  # kept, not lost, while paused
        assert len(meta.requests) == 1
        started = time.monotonic()
        resumed = await relay.admin("connectors/meta/resume", "POST")
        assert resumed.json() == {"state": "active"}
        await relay.wait_status("order-5", "meta", "delivered")
        await relay.wait_status("order-5-paused", "meta", "delivered")
        # the dashboard's resume reaches this process's worker at once, not at its next paused-state read
        assert time.monotonic() - started < PAUSED_CHECK_SECONDS / 2
        # nothing went out while paused: both left together in the one request after the resume (a send
        # while paused would have delivered order-5 alone, the script's one refusal being used up)
        assert len(meta.requests) == 2
        assert sorted(e["event_id"] for e in meta.events) == ["order-5", "order-5-paused"]


def _worker(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "relay", "worker", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _lease_holder(db: Path, event_id: str) -> int:
    """The pid of the worker holding ``event_id``'s delivery (worker ids are ``host:pid:random``)."""
    with sqlite3.connect(db) as conn:
        [(worker_id,)] = conn.execute(
            "SELECT d.worker_id FROM deliveries d JOIN events e ON e.id = d.event_pk WHERE e.event_id = ?",
            (event_id,),
        ).fetchall()
    return int(worker_id.rsplit(":", 2)[1])


async def test_worker_killed_mid_batch_is_recovered_by_the_lease(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        meta = relay.fake("meta")
        # no answer within the 0.5 s request timeout: the worker is killed while it waits for one
        meta.script(ScriptedResponse(delay=1.0, status=500))
        await relay.post_events(purchase("order-6"))
        # two workers start together (starting is the slow part); the one that claims the batch is killed
        started = [_worker(relay.config_path), _worker(relay.config_path)]
        workers = {w.pid: w for w in started}
        try:
            await relay.wait_for(
                lambda: len(meta.requests) == 1, timeout=20, what="the first worker's request"
            )
            holder = workers.pop(_lease_holder(tmp_path / "relay.db", "order-6"))
            [d] = await relay.deliveries(event_id="order-6")
            assert d["status"] == "in_flight"
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)
            [survivor] = workers.values()
            await relay.wait_status("order-6", "meta", "delivered", timeout=20)
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(20) == 0  # a graceful stop
        finally:
            for worker in started:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait(10)
        assert [e["event_id"] for e in meta.events] == ["order-6"]
        assert len(meta.requests) == 2  # the unanswered request, then the survivor's
