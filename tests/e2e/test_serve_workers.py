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

from relay.cli.supervisor import MIN_UPTIME_SECONDS
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
    """Storing is per process: on SQLite and on PostgreSQL."""
    server = Served(tmp_path, db_url, workers=2)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Served]:
    """Supervising the processes does not depend on the storage: SQLite only."""
    server = Served(tmp_path, f"sqlite:///{tmp_path / 'relay.db'}", workers=2)
    try:
        yield server
    finally:
        server.stop()


def fresh_connections(timeout: float) -> httpx.AsyncClient:
    """A client that opens a new connection for every request (none is kept alive to be reused)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.AsyncClient(timeout=timeout, limits=limits, headers={"connection": "close"})


async def send_all(base: str) -> list[httpx.Response]:
    """Each event on a connection of its own, many at once, so both processes take some."""

    async def one(client: httpx.AsyncClient, i: int) -> httpx.Response:
        event = {"event_name": "PageView", "event_id": f"w-{i}", "event_source_url": "https://shop.example/"}
        return await client.post(f"{base}/v1/collect", json=event, headers={"origin": "https://shop.example"})

    async with fresh_connections(30) as client:
        return await asyncio.gather(*(one(client, i) for i in range(EVENTS)))


async def per_process_counts(base: str) -> set[float]:
    """``relay_events_received_total`` as each process counts it, read on fresh connections."""
    seen: set[float] = set()
    async with fresh_connections(10) as client:
        for _ in range(60):
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
            await asyncio.sleep(0.05)
    assert sorted(d["event_id"] for d in items) == sorted(f"w-{i}" for i in range(EVENTS))
    assert {d["status"] for d in items} == {"delivered"}
    assert {d["attempts"] for d in items} == {1}  # one worker on the machine: nothing sent twice


async def test_a_process_that_dies_is_replaced_and_a_stop_signal_stops_every_process(
    supervised: Served,
) -> None:
    served = supervised
    first, _ = served.children()
    while _age(first) < MIN_UPTIME_SECONDS + 0.2:  # the supervisor restarts only a process up that long
        await asyncio.sleep(0.05)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = served.children()
        if len(now) == 2 and first not in now:
            break
        await asyncio.sleep(0.05)
    assert len(served.children()) == 2 and first not in served.children()
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):
            answer = await client.get(f"{served.base}/readyz")
            assert answer.status_code == 200
    children = served.children()
    assert served.stop() == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_workers_must_be_a_positive_number(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "relay", "serve", "--config", "none.yaml", "--workers"]
    runs = {
        value: subprocess.Popen([*command, value], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for value in ("0", "-1", "two")
    }  # at once: each spends its time importing the relay
    for value, run in runs.items():
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 2 and "--workers" in stderr, (value, stderr)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _age(pid: int) -> float:
    """Seconds since process ``pid`` started (its start time in ``/proc/<pid>/stat``, in clock ticks)."""
    start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
