"""`relay serve` runs the audience scheduler beside the delivery worker (unless --no-worker)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import API_KEY, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
AUDIENCES = {
    "pushed": {
        "source": {"type": "api"},
        "schedule": "1s",
        "destinations": {"meta": {"audience_id": "aud-1"}},
    }
}
MEMBERS = {"add": [{"email": "jane@example.com"}, {"email": "john@example.com", "phone": "+1 650 555 0000"}]}


def background_tasks() -> set[str]:
    """The names of the worker's and the audience scheduler's tasks running in this event loop."""
    names = {task.get_name() for task in asyncio.all_tasks()}
    return {name for name in names if name.startswith(("relay-worker", "relay-audience"))}


async def test_scheduled_audiences_sync_by_themselves(tmp_path: Path) -> None:
    async with run_relay(tmp_path, audiences=AUDIENCES) as relay:
        response = await relay.client.post(
            f"{relay.base}/v1/audiences/pushed/members",
            json=MEMBERS,
            headers={"authorization": f"Bearer {API_KEY}"},
        )
        assert response.status_code == 202 and response.json()["added"] == 2
        assert {"relay-worker", "relay-audiences", "relay-audience-pushed"} <= background_tasks()
        meta = relay.fake("meta")
        await relay.wait_for(
            lambda: len(meta.audiences.get("aud-1", ())) == 2, timeout=15, what="scheduled sync"
        )
        stats = (await relay.admin("stats")).json()
        assert "pushed" in stats["audiences"]


async def test_no_worker_means_no_scheduled_sync(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        await relay.client.post(
            f"{relay.base}/v1/audiences/pushed/members",
            json=MEMBERS,
            headers={"authorization": f"Bearer {API_KEY}"},
        )
        # no loop of the scheduler (nor the worker) runs in the process: nothing can sync, however long
        # one waits; test_scheduled_audiences_sync_by_themselves sees the same tasks when the worker runs
        assert background_tasks() == set()
        assert "audience_scheduler" not in relay.state.extras
        assert relay.fake("meta").audiences.get("aud-1", set()) == set()


async def test_relay_worker_runs_the_scheduler_too(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES) as relay:
        await relay.client.post(
            f"{relay.base}/v1/audiences/pushed/members",
            json=MEMBERS,
            headers={"authorization": f"Bearer {API_KEY}"},
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "relay", "worker", "--config", str(relay.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            meta = relay.fake("meta")
            await relay.wait_for(
                lambda: len(meta.audiences.get("aud-1", ())) == 2, timeout=30, what="worker sync"
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0
