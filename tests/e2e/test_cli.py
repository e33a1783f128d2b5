"""The commands as an operator runs them: `relay serve` on the example config, generated secrets,
and the maintenance commands against the same database."""

from __future__ import annotations

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

from relay import cli
from relay.testing import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


class Served:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.port = int(env["RELAY_PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "serve", "--config", str(ROOT / "config.example.yaml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("relay serve did not start:\n" + "".join(self.lines))

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return out


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "RELAY_PORT": str(port),
        "RELAY_SANDBOX_BASE": f"http://127.0.0.1:{port}/sandbox",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("RELAY_API_KEY", "RELAY_ADMIN_TOKEN", "RELAY_CONFIG", "RELAY_DATABASE_URL"):
        env.pop(name, None)
    yield tmp_path, env


def test_serve_the_example_config_with_generated_secrets(
    workdir: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cwd, env = workdir
    served = Served(cwd, env)
    try:
        event = {
            "event_name": "Purchase",
            "event_id": "cli-1",
            "event_source_url": "https://shop.example/done",
            "user": {
                "email": "jane@example.com",
                "ip": "203.0.113.9",
                "user_agent": "Mozilla/5.0",
                "country": "US",
                "twclid": "23opevjt88psuo13lu8d020qkn",
            },
            "custom": {"value": 12.5, "currency": "EUR"},
        }
        assert httpx.post(f"{served.base}/v1/events", json=event).status_code == 401
    finally:
        first = served.stop()
    api_key = re.search(r"generated API key \(shown once, store it now\): (\S+)", first)
    admin = re.search(r"generated admin token \(shown once, store it now\): (\S+)", first)
    assert api_key and admin, first
    assert (cwd / "relay.db").exists()
    # the second start reuses the stored secrets and prints none
    served = Served(cwd, env)
    try:
        auth = {"authorization": f"Bearer {api_key.group(1)}"}
        response = httpx.post(f"{served.base}/v1/events", json=event, headers=auth)
        assert response.status_code == 202, response.text
        admin_auth = {"authorization": f"Bearer {admin.group(1)}"}
        deadline = time.monotonic() + 20
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline and set(statuses.values()) != {"delivered"}:
            items = httpx.get(f"{served.base}/admin/api/deliveries", headers=admin_auth).json()["items"]
            statuses = {d["connector"]: d["status"] for d in items if d["event_id"] == "cli-1"}
            time.sleep(0.1)
        # every configured connector delivered it (the example config grows as platforms are added)
        assert {"meta", "x"} <= set(statuses) and set(statuses.values()) == {"delivered"}, statuses
        state = httpx.get(f"{served.base}/sandbox/meta/_state").json()
        assert "cli-1" in str(state)
        assert httpx.get(f"{served.base}/admin/api/stats").status_code == 401
    finally:
        second = served.stop()
    assert "generated" not in second
    assert api_key.group(1) not in second

    # maintenance commands against the same database, run in this process with the same environment
    # and folder (`relay serve` above is the operator's process; each more start costs seconds)
    monkeypatch.chdir(cwd)
    for name in set(os.environ) | set(env):
        if name in env:
            monkeypatch.setenv(name, env[name])
        else:
            monkeypatch.delenv(name)
    config = str(ROOT / "config.example.yaml")

    def command(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main([*args, "--config", config])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = command("deliveries", "--status", "delivered")
    assert code == 0 and out.count("cli-1") == len(statuses)
    code, out, _ = command("connectors")
    assert code == 0
    assert re.search(r"meta\s+conversion-relay", out) and "capabilities: audiences, conversions" in out
    assert re.search(r"x\s+type x\s+active", out)
    code, out, _ = command("connectors", "resume", "meta")
    assert code == 0 and "was not paused" in out
    assert command("connectors", "resume", "nope")[0] == 2
    code, out, _ = command("db", "upgrade")
    assert code == 0 and "latest schema" in out
    code, out, _ = command("purge")
    assert code == 0 and out.startswith("purged: 0 events deleted")
    code, _, err = command("replay", "--since", "not a time")
    assert code == 1 and "ISO-8601" in err


def test_send_test_event_prints_the_masked_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.harness import write_config

    port = free_port()
    env = {**os.environ, "RELAY_PORT": str(port), "RELAY_SANDBOX_BASE": f"http://127.0.0.1:{port}/sandbox"}
    env.pop("RELAY_CONFIG", None)
    config = str(write_config(tmp_path, port))
    server = subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", "--no-worker", "--config", config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    # send-test-event runs in this process with the same environment and folder (the program itself is
    # run by test_operator_cli's send-test-event test): a second of start-up saved per call
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELAY_PORT", env["RELAY_PORT"])
    monkeypatch.setenv("RELAY_SANDBOX_BASE", env["RELAY_SANDBOX_BASE"])
    monkeypatch.delenv("RELAY_CONFIG", raising=False)

    def send_test_event(connector: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["send-test-event", "--connector", connector, "--config", config])
        out, err = capsys.readouterr()
        return code, out, err

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        code, out, err = send_test_event("meta")
    finally:
        server.terminate()
        server.wait(30)
    assert code == 0, out + err
    assert "> POST http://127.0.0.1" in out and "access_token=***" in out
    assert "sandbox-meta-token" not in out
    assert '"event_name": "Purchase"' in out and "< 200" in out and "outcome: Delivered" in out
    assert '"fbc"' not in out and '"fbp"' in out  # no made-up click (meta.md §5: never make up an fbc)
    assert "note: connectors.meta has no test_event_code: Meta counts this Purchase like a real one" in out
    code, _, err = send_test_event("nope")
    assert code == 2 and "no connector named 'nope'" in err
