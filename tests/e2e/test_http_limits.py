"""Limits of the HTTP server against slow and malformed clients, for both of uvicorn's HTTP/1.1
implementations, through the same configuration as ``relay serve``; and an honest, bounded /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from relay.app import create_app
from relay.config import load_settings
from relay.server import HttpKind
from relay.testing import free_port, serve
from tests.e2e.harness import API_KEY, purchase, run_relay, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
LIMITS = {"header_timeout_seconds": 1, "body_timeout_seconds": 1, "max_header_bytes": 4096}
KINDS: list[HttpKind] = ["h11", "httptools"]


@contextlib.asynccontextmanager
async def served(tmp_path: Path, http: HttpKind, **server: Any) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    path = write_config(tmp_path, port, server={**LIMITS, **server})
    app = create_app(load_settings(path), run_worker=False, announce=lambda _: None)
    async with serve(app, port=port, http=http):
        yield "127.0.0.1", port


async def exchange(port: int, *chunks: bytes, pause: float = 0.0, wait: float = 5.0) -> tuple[bytes, float]:
    """Send ``chunks`` (``pause`` seconds apart), then read until the server closes; (answer, seconds)."""
    return await asyncio.to_thread(_exchange, port, chunks, pause, wait)


def _exchange(port: int, chunks: tuple[bytes, ...], pause: float, wait: float) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        answer = b""
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server answered and closed: read what it said
            if pause:
                time.sleep(pause)
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
        return answer, time.monotonic() - started


def parse(answer: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, orjson.loads(body) if body else None


@pytest.mark.parametrize("http", KINDS)
async def test_malformed_requests_get_a_json_400(tmp_path: Path, http: HttpKind) -> None:
    async with served(tmp_path, http) as (_, port):
        for garbage in (
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"\x00\x01\x02\r\n\r\n",
        ):
            status, headers, body = parse((await exchange(port, garbage))[0])
            assert status == 400 and headers["content-type"] == "application/json", garbage
            assert body["error"] == "invalid_request" and body["detail"]


@pytest.mark.parametrize("http", KINDS)
async def test_oversized_headers_get_a_json_431(tmp_path: Path, http: HttpKind) -> None:
    async with served(tmp_path, http) as (_, port):
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 5000 + b"\r\n\r\n"
        status, _, body = parse((await exchange(port, big))[0])
        assert status == 431 and body["error"] == "headers_too_large"
        many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-%d: %s\r\n" % (i, b"b" * 60) for i in range(80)
        )
        status, _, body = parse((await exchange(port, many + b"\r\n"))[0])
        assert status == 431 and body["error"] == "headers_too_large"
        long_url = b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert parse((await exchange(port, long_url))[0])[0] == 431
        fine = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3000 + b"\r\nConnection: close\r\n\r\n"
        assert parse((await exchange(port, fine))[0])[0] == 200


@pytest.mark.parametrize("http", KINDS)
async def test_a_client_trickling_its_headers_is_cut_off(tmp_path: Path, http: HttpKind) -> None:
    async with served(tmp_path, http) as (_, port):
        start = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        trickle = [start, *(b"X-Slow-%d: y\r\n" % i for i in range(40))]  # 4 s of headers at 0.1 s a line
        answer, seconds = await exchange(port, *trickle, pause=0.1)
        status, _, body = parse(answer)
        assert status == 408 and body["error"] == "request_timeout"
        assert 0.9 < seconds < 2.5  # header_timeout_seconds is 1


@pytest.mark.parametrize("http", KINDS)
async def test_silent_and_idle_connections_are_closed(tmp_path: Path, http: HttpKind) -> None:
    async with served(tmp_path, http, keep_alive_seconds=30) as (_, port):
        first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        # side by side, as the two wait out the same timeout: one connects and never sends a byte;
        # after a response, a keep-alive connection trickling the next request is cut off too
        (silent, silent_for), (kept, kept_for) = await asyncio.gather(
            exchange(port), exchange(port, first, b"G", b"E", b"T", b" ", b"/", pause=0.5)
        )
        assert silent == b"" and 0.9 < silent_for < 2.5
        assert kept.startswith(b"HTTP/1.1 200") and b"408" in kept and kept_for < 3.5


@pytest.mark.parametrize("http", KINDS)
async def test_a_client_trickling_its_body_gets_408(tmp_path: Path, http: HttpKind) -> None:
    async with served(tmp_path, http) as (_, port):
        head = (
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        )
        answer, seconds = await exchange(port, head, b'{"event_name"', *([b" "] * 30), pause=0.1)
        status, headers, body = parse(answer)
        assert status == 408 and body["error"] == "request_timeout"
        assert headers.get("connection") == "close" and seconds < 3.5


async def test_relay_serve_applies_the_limits(tmp_path: Path) -> None:
    """``relay serve`` builds its server with the same configuration (subprocess, the operator's way)."""
    import os
    import subprocess
    import sys

    port = free_port()
    path = write_config(tmp_path, port, server=LIMITS, sandbox=False, connectors={})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        status, _, body = parse((await exchange(port, b"NOT HTTP\r\n\r\n"))[0])
        assert status == 400 and body["error"] == "invalid_request"
        answer, seconds = await exchange(port, b"GET /healthz HTTP/1.1\r\n", b"X: 1\r\n", pause=0.2)
        assert parse(answer)[0] == 408 and seconds < 2.5
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 5000 + b"\r\n\r\n"
        assert parse((await exchange(port, big))[0])[0] == 431
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


async def test_readyz_proves_a_write(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False) as relay:
        db = tmp_path / "relay.db"
        assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
        with sqlite3.connect(db) as conn:
            [(first,)] = conn.execute("SELECT at FROM relay_heartbeats").fetchall()
            # reads still work, writes fail: not ready
            refuse = "SELECT RAISE(ABORT, 'disk full')"
            conn.execute(f"CREATE TRIGGER refuse BEFORE UPDATE ON relay_heartbeats BEGIN {refuse}; END")
        down = await relay.client.get(f"{relay.base}/readyz")
        assert down.status_code == 503 and down.json()["status"] == "unavailable"
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER refuse")
        assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
        with sqlite3.connect(db) as conn:
            [(second,)] = conn.execute("SELECT at FROM relay_heartbeats").fetchall()
        assert second > first


async def test_readyz_is_bounded_when_storage_is_locked(tmp_path: Path) -> None:
    async with run_relay(tmp_path, run_worker=False, server={"ready_timeout_seconds": 0.5}) as relay:
        assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 200
        lock = sqlite3.connect(tmp_path / "relay.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            slow = await relay.client.get(f"{relay.base}/readyz")
            assert slow.status_code == 503 and time.monotonic() - started < 2
            # the stuck write is not queued behind again: the next probe answers at once
            started = time.monotonic()
            assert (await relay.client.get(f"{relay.base}/readyz")).status_code == 503
            assert time.monotonic() - started < 0.4
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        ready = None
        for _ in range(50):
            ready = await relay.client.get(f"{relay.base}/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert ready is not None and ready.status_code == 200
        assert (await relay.post_events(purchase("after-lock"))).status_code == 202
