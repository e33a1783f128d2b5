"""Hostile input to the audience endpoints (``POST /v1/audiences/{name}/members``, ``DELETE /v1/users``) on
a real relay: a trickled body is cut off with 408, a 10,000-member push leaves the event loop free, a body
whose lists are not lists is refused, and duplicate members are counted once."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.harness import API_KEY, Relay, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

AUDIENCES = {
    "pushed": {
        "source": {"type": "api"},
        "schedule": "manual",
        "destinations": {"meta": {"audience_id": "aud-hostile"}},
    }
}
AUTH = {"authorization": f"Bearer {API_KEY}"}
URL = "/v1/audiences/pushed/members"


@contextlib.asynccontextmanager
async def relay_on(tmp_path: Path, **server: Any) -> AsyncIterator[Relay]:
    async with run_relay(tmp_path, run_worker=False, audiences=AUDIENCES, server=server) as relay:
        yield relay


async def push(relay: Relay, body: Any) -> httpx.Response:
    return await relay.client.post(f"{relay.base}{URL}", json=body, headers=AUTH)


def stored_members(relay: Relay) -> int:
    with relay.state.db.engine.connect() as conn:
        [(count,)] = conn.exec_driver_sql("SELECT COUNT(*) FROM audience_api_members").fetchall()
    return int(count)


# --- 1. a body trickled in is cut off after server.body_timeout_seconds ------------------------------


def _trickle(port: int, head: bytes, byte: bytes, pause: float, give_up: float) -> tuple[bytes, float]:
    """Send ``head``, then ``byte`` every ``pause`` seconds until the server answers (or ``give_up``
    seconds pass); read the answer to its end. (answer, seconds until the first byte of it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=give_up) as sock:
        started = time.monotonic()
        sock.sendall(head)
        while time.monotonic() - started < give_up:
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                break
            with contextlib.suppress(OSError):
                sock.sendall(byte)
        else:
            return b"", time.monotonic() - started
        seconds = time.monotonic() - started
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while data := sock.recv(65536):
                answer += data
        return answer, seconds


def _parse(answer: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, orjson.loads(body) if body else None


@pytest.mark.parametrize(
    ("method", "path"), [("POST", URL), ("DELETE", "/v1/users")], ids=["members", "users"]
)
async def test_a_trickled_body_gets_408(tmp_path: Path, method: str, path: str) -> None:
    async with relay_on(tmp_path, body_timeout_seconds=1) as relay:
        port = int(relay.base.rsplit(":", 1)[1])
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
        ).encode()
        answer, seconds = await asyncio.to_thread(_trickle, port, head, b" ", 0.1, 6.0)
        assert answer, f"no answer after {seconds:.1f} s of a trickled body"
        status, headers, body = _parse(answer)
        assert status == 408 and body["error"] == "request_timeout", answer
        assert headers.get("connection") == "close"
        assert 0.9 < seconds < 3.5  # server.body_timeout_seconds is 1


# --- 2. a big push does not stall the other clients ---------------------------------------------------


def big_push(count: int) -> dict[str, Any]:
    users: list[dict[str, Any]] = [
        {
            "email": f"Person.{i}@Example.com",
            "phone": f"+1 (650) 5{i // 10000:02d}-{i % 10000:04d}",
            "first_name": "Ann",
            "last_name": f"Lee{i}",
            "city": "Palo Alto",
            "zip": "94301",
            "country": "US",
            "external_id": f"crm-{i:06d}",
        }
        for i in range(count)
    ]
    users[17] = {"first_name": "Nobody"}
    users[4242] = {"email": "a@example.com", "shoe_size": 42}
    return {"add": users}


def _probe(url: str, stop: threading.Event, latencies: list[float]) -> None:
    """GET ``url`` every 20 ms until ``stop``, from a thread of its own (the relay's event loop is the
    test's: a probe on it would not see the loop blocked, only wait its turn), noting each answer's time."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            before = time.monotonic()
            assert client.get(url).status_code == 200
            latencies.append(time.monotonic() - before)
            stop.wait(0.02)


async def test_a_big_push_leaves_the_loop_free(tmp_path: Path) -> None:
    body = orjson.dumps(big_push(10_000))
    assert len(body) > 1_000_000
    async with relay_on(tmp_path) as relay:
        latencies: list[float] = []
        stop = threading.Event()
        probe = asyncio.create_task(asyncio.to_thread(_probe, f"{relay.base}/healthz", stop, latencies))
        await relay.wait_for(lambda: latencies, what="a first /healthz")
        started = time.monotonic()
        headers = {**AUTH, "content-type": "application/json"}
        try:
            response = await relay.client.post(
                f"{relay.base}{URL}", content=body, headers=headers, timeout=60
            )
        finally:
            took = time.monotonic() - started
            stop.set()
            await probe

        assert response.status_code == 202, response.text
        answer = response.json()
        assert (answer["added"], answer["removed"]) == (9_998, 0)
        assert [(r["index"], r["op"]) for r in answer["rejected"]] == [(17, "add"), (4242, "add")]
        assert "no usable identifier" in answer["rejected"][0]["error"]
        assert "unknown key" in answer["rejected"][1]["error"]
        assert stored_members(relay) == 9_998
        worst = max(latencies)
        print(f"push {took:.2f} s, {len(latencies)} /healthz, worst {worst * 1000:.0f} ms")
        assert len(latencies) >= 5 and worst < 0.5, (took, sorted(latencies)[-5:])


# --- 3. "add" and "remove" are lists, absent or null; anything else is refused ----------------------


@pytest.mark.parametrize("op", ["add", "remove"])
@pytest.mark.parametrize("value", [0, 1, False, True, "", "x", {}, {"email": "a@example.com"}, 1.5])
async def test_lists_that_are_not_lists_are_refused(tmp_path: Path, op: str, value: Any) -> None:
    async with relay_on(tmp_path) as relay:
        response = await push(relay, {op: value})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_event"
        both = await push(relay, {"add": [{"email": "a@example.com"}], "remove": [], op: value})
        assert (both.status_code, both.json()["error"]) == (400, "invalid_event")
        assert stored_members(relay) == 0


async def test_absent_null_and_empty_lists_are_nothing_to_do(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = [
        {},
        {"add": None},
        {"remove": None},
        {"add": [], "remove": None},
        {"add": None, "remove": []},
    ]
    async with relay_on(tmp_path) as relay:
        for body in bodies:
            response = await push(relay, body)
            assert response.status_code == 202, (body, response.text)
            assert response.json() == {"added": 0, "removed": 0, "rejected": []}


# --- 4. duplicates in one request are one member, counted once ---------------------------------------


async def test_duplicate_members_are_counted_once(tmp_path: Path) -> None:
    async with relay_on(tmp_path) as relay:
        same = [{"email": "jane@example.com"}, {"email": "JANE@example.com "}, {"email": "jane@example.com"}]
        response = await push(relay, {"add": same})
        assert response.status_code == 202
        assert response.json() == {"added": 1, "removed": 0, "rejected": []}
        assert stored_members(relay) == 1

        # a later user sharing an identifier (the phone) with an earlier one replaces it: one member
        sharing = [
            {"email": "ann@example.com", "phone": "+1 650 555 0101"},
            {"email": "bob@example.com"},
            {"email": "ann.new@example.com", "phone": "+1 (650) 555-0101"},
            {"email": "bob@example.com"},
        ]
        response = await push(relay, {"add": sharing})
        assert response.json() == {"added": 2, "removed": 0, "rejected": []}
        assert stored_members(relay) == 3  # jane, bob, ann (her new address)

        removal = await push(relay, {"remove": [{"email": "bob@example.com"}, {"email": "Bob@example.com"}]})
        assert removal.json() == {"added": 0, "removed": 1, "rejected": []}
        assert stored_members(relay) == 2
