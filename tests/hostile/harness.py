"""A real ``relay serve`` subprocess under attack, the fake platforms it delivers to, and the probes
the hostile suite measures it with (``/healthz`` latency, process memory, raw sockets, a storage dump)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, inspect, text
from starlette.applications import Starlette

from relay.config import load_settings
from relay.sandbox import build_sandbox
from relay.settings import ServerSettings
from relay.testing import free_port, serve

ROOT = Path(__file__).resolve().parents[2]
# high-entropy credentials, so that any ten characters of one found somewhere are a leak (a secret cut
# in two before it was masked leaves such a piece behind)
API_KEY = "ak_Qm7RtX2pLw9VhN4sKe8Jd3Fz"
ADMIN_TOKEN = "at_Vb6NcY1qHs5TgW0rZu7Mx2Lp"
META_TOKEN = "EAAGm0PX4ZCpsBA9kRtY7wQnL2vHcJ5dU8"
META_APP_SECRET = "as_3fK9pQ2wXz7LmN4bV8cR1tY6"
X_SECRETS = {
    "consumer_key": "ck_Hq4Wn8Zp2Rt6Ys0Lm3Vb9Xc",
    "consumer_secret": "cs_Tj5Kd1Gm7Nq3Wz9Pr2Hy6Bf0Lx",
    "access_token": "12345-At7Qw3Er9Ty1Ui5Op8As2Df",
    "access_token_secret": "ts_Zx4Cv8Bn2Mq6Wl0Ek3Rj7Hp",
}
#: every credential the relay is given; none may appear in storage, logs or the admin API
SECRETS = (API_KEY, ADMIN_TOKEN, META_TOKEN, META_APP_SECRET, *X_SECRETS.values())
#: every ten-character piece of every credential
SECRET_PIECES = frozenset(secret[k : k + 10] for secret in SECRETS for k in range(len(secret) - 9))
#: the untrusted peer is loopback 127.0.0.1; 127.0.0.2 is a trusted proxy (a control for the header rule)
TRUSTED_PEER = "127.0.0.2"
#: failed logins are sent from their own address so the login rate limit cannot block the other checks
LOGIN_ATTACKER = "127.0.0.3"
X_TAGS = {"Purchase": "o87ne", "Lead": "o87nf", "AddToCart": "o87ng", "PageView": "o87nh"}
#: timeouts for slow clients, when the relay has settings for them (set small to keep the suite fast)
SLOW_CLIENT_KEYS = {"body_timeout_seconds": 2, "header_timeout_seconds": 2}


def slow_client_settings() -> dict[str, float]:
    """The slow-client timeouts this relay version knows, with the small values the suite sets."""
    return {k: v for k, v in SLOW_CLIENT_KEYS.items() if k in ServerSettings.model_fields}


def config(port: int, fake_base: str, storage_url: str) -> dict[str, Any]:
    meta = {
        "type": "meta",
        "pixel_id": "1234567890",
        "access_token": META_TOKEN,
        "app_secret": META_APP_SECRET,
        "api_base": f"{fake_base}/sandbox/meta",
        "consent": {"tcf_purposes": [1, 3, 4, 7], "us_opt_out": "ldu"},
    }
    x = {
        "type": "x",
        "pixel_id": "o8z6j",
        "event_tags": X_TAGS,
        "ads_account_id": "18ce54d4x5t",
        "api_base": f"{fake_base}/sandbox/x",
        "consent": {"tcf_purposes": [1, 3, 4, 7], "us_opt_out": "drop"},
        **X_SECRETS,
    }
    return {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "allowed_origins": ["https://shop.example"],
            "trusted_proxies": ["10.9.9.9/32", f"{TRUSTED_PEER}/32"],
            "country_header": "CF-IPCountry",
            "default_country": "US",
            "api_keys": [API_KEY],
            "admin_token": ADMIN_TOKEN,
            **slow_client_settings(),
        },
        "storage": {"url": storage_url},
        "delivery": {
            "max_attempts": 5,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "lease_seconds": 5,
            "poll_interval_ms": 20,
            "request_timeout_seconds": 5,
        },
        "sandbox": True,
        "consent": {"default": {"eu": "deny", "us": "allow", "other": "allow", "unknown": "deny"}},
        "connectors": {"meta": meta, "x": x},
    }


@dataclass
class RelayProcess:
    """``relay serve --config FILE`` in a subprocess; stdout and stderr go to :attr:`log_path`."""

    base: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_relay(config_path: Path, port: int, log_path: Path) -> RelayProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("RELAY_API_KEY", "RELAY_ADMIN_TOKEN", "RELAY_CONFIG", "RELAY_DATABASE_URL"):
        env.pop(name, None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "serve", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=config_path.parent,
        )
    relay = RelayProcess(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"relay serve exited with {proc.returncode}:\n{relay.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{relay.base}/healthz", timeout=1).status_code == 200:
                return relay
        time.sleep(0.05)
    relay.stop()
    raise AssertionError(f"relay serve did not start:\n{relay.log()}")


@contextlib.contextmanager
def relay_serving(workdir: Path, storage_url: str, fake_port: int) -> Iterator[RelayProcess]:
    port = free_port()
    path = workdir / "relay.yaml"
    path.write_text(yaml.safe_dump(config(port, f"http://127.0.0.1:{fake_port}", storage_url)))
    relay = start_relay(path, port, workdir / "relay.log")
    try:
        yield relay
    finally:
        relay.stop()


@contextlib.asynccontextmanager
async def fake_platforms(config_path: Path, port: int) -> AsyncIterator[dict[str, Any]]:
    """The sandbox's fake Meta and X, served on their own port in the test process so that every
    request they accept can be read back (their ``/_state`` page shows only the latest ones)."""
    fakes, routes = build_sandbox(load_settings(config_path))
    async with serve(Starlette(routes=routes), port=port, lifespan="off"):
        yield fakes


@dataclass
class HealthProbe:
    """Polls ``/healthz`` from its own process (see :mod:`tests.hostile.healthz_probe`), so that only
    the relay's answer time is measured, never the attacker's own load."""

    port: int
    interval: float = 0.02
    latencies: list[float] = field(default_factory=list)
    #: when each request started, in seconds after the probe began
    at: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> HealthProbe:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.healthz_probe", str(self.port), str(self.interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        out, _ = self._proc.communicate(input="", timeout=30)
        result = json.loads(out or '{"latencies": [], "at": [], "failures": ["the probe printed nothing"]}')
        self.latencies, self.at, self.failures = result["latencies"], result["at"], result["failures"]


def rss_bytes(pid: int) -> int:
    """The process's resident set size, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class PeakRss:
    """Samples a process's RSS every few milliseconds in a thread; :attr:`peak` is the highest seen."""

    pid: int
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self.peak = rss_bytes(self.pid)
        self._thread = threading.Thread(target=self._run, name="rss-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.peak = max(self.peak, rss_bytes(self.pid))

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_bytes(self.pid))


@dataclass
class RawAnswer:
    """What a raw socket got back: the status (None when the server closed without answering),
    headers, body and the time it took."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    elapsed: float
    sent: int = 0
    #: the server closed the connection (rather than the client giving up waiting)
    closed: bool = True


def parse_answer(data: bytes, elapsed: float, sent: int = 0, closed: bool = True) -> RawAnswer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status: int | None = None
    if lines and lines[0].startswith("HTTP/1."):
        status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status, headers, body, elapsed, sent, closed)


async def raw_exchange(port: int, payload: bytes, *, timeout: float = 10.0) -> RawAnswer:
    """Send ``payload`` as is and read until the server closes the connection (or ``timeout``)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = b""
    closed = True
    try:
        writer.write(payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        try:
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(65536):
                    data += chunk
        except ConnectionError:
            pass
        except TimeoutError:
            closed = False
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_answer(data, time.perf_counter() - started, len(payload), closed)


def big_body_exchange(port: int, head: bytes, total: int, *, timeout: float = 10.0) -> RawAnswer:
    """Send ``head`` then up to ``total`` body bytes, stopping as soon as the server answers or hangs up;
    ``elapsed`` is the time to the answer's headers."""
    started = time.perf_counter()
    chunk = b"token=" + b"a" * (65536 - 6)
    sent, data = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        while time.perf_counter() - started < timeout and b"\r\n\r\n" not in data:
            try:
                received = sock.recv(65536)
            except BlockingIOError:
                received = None
            except OSError:  # reset: the server gave up on the body
                break
            if received == b"":
                break
            data += received or b""
            if sent >= total:
                time.sleep(0.001)
                continue
            try:
                sent += sock.send(chunk[: total - sent])
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        elapsed = time.perf_counter() - started
        answer = parse_answer(data, elapsed, sent)
        # the rest of the answer's body, when the server keeps the connection open after it
        sock.setblocking(True)
        sock.settimeout(1)
        length = int(answer.headers.get("content-length", "0") or 0)
        with contextlib.suppress(OSError):
            while len(answer.body) < length and (more := sock.recv(65536)):
                answer.body += more
    return answer


def dump_storage(url: str) -> list[str]:
    """Every value of every column of every table, as text (``table.column: value``)."""
    engine = create_engine(url)
    out: list[str] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
                for row in rows:
                    for column, value in row.items():
                        if value is None:
                            continue
                        if isinstance(value, bytes | memoryview):
                            value = bytes(value).decode("latin-1")
                        out.append(f"{table}.{column}: {value}")
    finally:
        engine.dispose()
    return out
