"""`relay serve --workers N`: N processes accept on one socket, each storing with its own group commit;
every event is stored once and delivered once, by the one delivery worker of the machine."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from relay.testing import free_port
from tests.e2e.harness import ADMIN_TOKEN, config_dict

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
EVENTS = 120
RECEIVED = re.compile(r'^relay_events_received_total\{endpoint="collect"\} ([\d.]+)$', re.M)


class Served:
    """``relay serve --workers N`` as a child process."""

    def __init__(self, tmp_path: Path, db_url: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = config_dict(self.port, tmp_path / "relay.db", storage={"url": db_url})
        path = tmp_path / "relay.yaml"
        path.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "relay", "serve", "--config", str(path), "--workers", str(workers)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"relay serve --workers {workers} did not start:\n{self.output}")

    def children(self) -> list[int]:
        """The server processes (not multiprocessing's resource tracker)."""
        found = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in found if b"spawn_main" in _cmdline(int(pid))]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        self.output = out
        return self.proc.returncode


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[Served]:
    server = Served(tmp_path, db_url, workers=2)
    try:
        yield server
    finally:
        server.stop()


async def send_all(base: str) -> list[httpx.Response]:
    """Each event on a connection of its own, many at once, so both processes take some."""

    async def one(i: int) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            event = {
                "event_name": "PageView",
                "event_id": f"w-{i}",
                "event_source_url": "https://shop.example/",
            }
            return await client.post(
                f"{base}/v1/collect", json=event, headers={"origin": "https://shop.example"}
            )

    return await asyncio.gather(*(one(i) for i in range(EVENTS)))


async def per_process_counts(base: str) -> set[float]:
    """``relay_events_received_total`` as each process counts it, read on fresh connections."""
    seen: set[float] = set()
    for _ in range(60):
        async with httpx.AsyncClient(timeout=10) as client:
            match = RECEIVED.search((await client.get(f"{base}/metrics")).text)
        seen.add(float(match.group(1)) if match else 0.0)
        if len(seen) == 2:
            break
    return seen


async def test_two_processes_share_the_socket_and_store_each_event_once(served: Served) -> None:
    assert len(served.children()) == 2
    answers = await send_all(served.base)
    assert [r.status_code for r in answers] == [202] * EVENTS
    # the same events again (a retried batch): accepted, still stored once
    assert {r.status_code for r in await send_all(served.base)} == {202}
    counts = await per_process_counts(served.base)
    assert len(counts) == 2 and sum(counts) == 2 * EVENTS, counts  # both processes accepted events
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        deadline = time.monotonic() + 60
        while True:
            listed = await client.get(f"{served.base}/admin/api/deliveries", params={"limit": 1000})
            items = listed.json()["items"]
            if all(d["status"] == "delivered" for d in items) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert sorted(d["event_id"] for d in items) == sorted(f"w-{i}" for i in range(EVENTS))
    assert {d["status"] for d in items} == {"delivered"}
    assert {d["attempts"] for d in items} == {1}  # one worker on the machine: nothing sent twice


async def test_stop_signal_stops_every_process(served: Served) -> None:
    children = served.children()
    assert len(children) == 2
    assert served.stop() == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


async def test_a_process_that_dies_is_replaced(served: Served) -> None:
    first, _ = served.children()
    await asyncio.sleep(6)  # past the supervisor's minimum uptime for a restart
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = served.children()
        if len(now) == 2 and first not in now:
            break
        await asyncio.sleep(0.2)
    assert len(served.children()) == 2 and first not in served.children()
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):
            answer = await client.get(f"{served.base}/readyz")
            assert answer.status_code == 200


def test_workers_must_be_a_positive_number(tmp_path: Path) -> None:
    for value in ("0", "-1", "two"):
        done = subprocess.run(
            [sys.executable, "-m", "relay", "serve", "--config", "none.yaml", "--workers", value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and "--workers" in done.stderr, (value, done.stderr)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
