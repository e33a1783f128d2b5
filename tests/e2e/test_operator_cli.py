"""The operator's commands against a real ``relay serve`` (issue 15): the sandbox follows ``--port``,
``relay check --connect``, ``relay keys rotate``, ``relay deliveries --event-id`` with ISO times,
``send-test-event`` showing the pixel id, and failures that are one line with their cause."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from relay.cli import main as relay_main
from relay.sandbox.x import SANDBOX_OAUTH
from relay.testing import free_port
from tests.e2e.harness import config_dict

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OAUTH_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def relay(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, **(env or {})},
        timeout=120,
    )


def relay_here(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``relay`` run in this process, as :func:`relay` runs it (the folder, no ``RELAY_*`` variables),
    its output captured: a second of interpreter start-up saved per call. For what the program itself
    does (exit codes, one-line errors, serving, logging) the tests below keep a real ``relay`` process;
    ``serve`` and ``worker`` set up logging for the whole process, so they are never run here."""
    hidden = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("RELAY_")}
    out, err, previous = io.StringIO(), io.StringIO(), Path.cwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = relay_main(list(args))
    except SystemExit as exc:  # argparse's own answers (--help, usage errors)
        code = int(exc.code or 0)
    finally:
        os.chdir(previous)
        os.environ.update(hidden)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@dataclass
class Served:
    base: str
    port: int
    configured_port: int
    config: Path
    cwd: Path
    api_key: str
    admin_token: str
    out: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return relay_here(*args, "--config", str(self.config), cwd=self.cwd)


def write_yaml(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def served_config(tmp: Path, configured_port: int) -> dict[str, object]:
    config = config_dict(configured_port, tmp / "relay.db")
    server = dict(config["server"])
    server.update(api_keys=[], admin_token=None, allowed_origins=["https://shop.example"])
    config["server"] = server
    x = {
        "type": "x",
        "pixel_id": "o8z6j",
        "event_tags": {"Purchase": "o87ne"},
        "ads_account_id": "18ce54d4x5t",
        "api_base": f"http://127.0.0.1:{configured_port}/sandbox/x",
        **dict(zip(OAUTH_KEYS, SANDBOX_OAUTH, strict=True)),
        "consent": {"tcf_purposes": [1], "us_opt_out": "drop"},
    }
    config["connectors"] = {**config["connectors"], "x": x}
    return config


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    configured, port = free_port(), free_port()
    config = write_yaml(tmp / "relay.yaml", served_config(tmp, configured))
    out = tmp / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    with out.open("w") as log:
        # the config says one port, the command line another: the sandbox and the shop must follow
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "serve", "--config", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("relay serve did not start:\n" + out.read_text())
        text = out.read_text()
        api_key = re.search(r"generated API key \(shown once, store it now\): (\S+)", text)
        admin = re.search(r"generated admin token \(shown once, store it now\): (\S+)", text)
        assert api_key and admin, text
        yield Served(base, port, configured, config, tmp, api_key.group(1), admin.group(1), out)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def post_event(served: Served, event_id: str, key: str | None = None) -> httpx.Response:
    event = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/done",
        "user": {
            "email": "jane@example.com",
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0",
            "country": "US",
        },
        "custom": {"value": 12.5, "currency": "EUR"},
    }
    headers = {"authorization": f"Bearer {key or served.api_key}"}
    return httpx.post(f"{served.base}/v1/events", json=event, headers=headers, timeout=10)


def wait_delivered(served: Served, event_id: str, connectors: set[str]) -> str:
    deadline = time.monotonic() + 30
    while True:
        listing = served.cli("deliveries", "--event-id", event_id)
        assert listing.returncode == 0, listing.stderr
        done = {c for c in connectors if re.search(rf"\b{c}\s+delivered\b", listing.stdout)}
        if done == connectors or time.monotonic() > deadline:
            assert done == connectors, listing.stdout
            return listing.stdout
        time.sleep(0.05)


def test_the_sandbox_follows_the_port_given_on_the_command_line(served: Served) -> None:
    assert served.port != served.configured_port
    assert post_event(served, "port-1").status_code == 202
    listing = wait_delivered(served, "port-1", {"meta", "x"})
    # times are ISO 8601, not Unix numbers; only the asked event is listed
    assert ISO.search(listing) and not re.search(r"\b1[5-9]\d{8}\b", listing)
    assert "port-1" in listing and len(listing.strip().splitlines()) == 3
    state = httpx.get(f"{served.base}/sandbox/meta/_state").json()
    assert any(e["event_id"] == "port-1" for e in state["recent_events"])
    # the demo shop's own origin may post (it is not in allowed_origins: the sandbox adds it)
    body = '{"events":[{"event_name":"PageView","event_id":"shop-1","event_source_url":"https://shop.example/"}]}'
    own = httpx.post(
        f"{served.base}/v1/collect",
        content=body,
        headers={"origin": served.base, "content-type": "text/plain"},
    )
    assert own.status_code == 202, own.text
    foreign = httpx.post(
        f"{served.base}/v1/collect",
        content=body,
        headers={"origin": "https://evil.example", "content-type": "text/plain"},
    )
    assert foreign.status_code == 403 and foreign.json()["error"] == "origin_not_allowed"
    assert "not this server" not in served.out.read_text()


def test_check_connect_verifies_storage_and_credentials(served: Served) -> None:
    # the config's own port is not served: check the copy pointed at the real one
    config = yaml.safe_load(served.config.read_text())
    for block in config["connectors"].values():
        block["api_base"] = block["api_base"].replace(str(served.configured_port), str(served.port))
    good = write_yaml(served.cwd / "good.yaml", config)
    config["connectors"]["meta"]["access_token"] = "wrong-token-0123456789"
    config["connectors"]["x"]["access_token_secret"] = "wrong-secret-0123456789"
    config["storage"]["url"] = "postgresql://nobody@127.0.0.1:1/none"
    bad = write_yaml(served.cwd / "bad.yaml", config)
    runs = (
        ["check", "--connect", "--config", str(served.config)],
        ["check", "--connect", "--config", str(good)],
        ["check", "--connect", "--config", str(bad)],
        ["check", "--config", str(bad)],
    )
    ok, result, failed, offline = (relay_here(*args, cwd=served.cwd) for args in runs)

    assert "connections:" in ok.stdout and "storage: ok: reachable" in ok.stdout, ok.stdout + ok.stderr
    assert "migrations: ok: at the latest schema" in ok.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "connector meta: ok: credentials accepted for pixel 1234567890" in result.stdout
    assert "connector x: ok: credentials accepted (ads account 18ce54d4x5t readable)" in result.stdout

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"storage: FAILED: unreachable: .*Connection refused", failed.stdout), failed.stdout
    assert re.search(r"connector meta: FAILED: Meta answered 40\d: .*access token", failed.stdout)
    assert "connector x: FAILED: X answered 401" in failed.stdout
    assert "wrong-token" not in failed.stdout and "wrong-secret" not in failed.stdout
    # without --connect nothing is reached
    assert offline.returncode == 0


def test_keys_rotate_replaces_the_api_key_and_the_admin_token(served: Served) -> None:
    assert post_event(served, "rotate-1").status_code == 202
    rotated = served.cli("keys", "rotate", "--api-key")
    assert rotated.returncode == 0, rotated.stderr
    new_key = re.search(r"new API key \(shown once, store it now\): (\S+)", rotated.stdout)
    assert new_key and new_key.group(1) != served.api_key
    deadline = time.monotonic() + 15
    while post_event(served, "rotate-2").status_code != 401:
        assert time.monotonic() < deadline, "the old API key still works"
        time.sleep(0.05)
    assert post_event(served, "rotate-3", key=new_key.group(1)).status_code == 202
    # only the digest is stored
    import sqlite3

    with sqlite3.connect(served.cwd / "relay.db") as db:
        stored = " ".join(str(v) for row in db.execute("select * from relay_secrets") for v in row)
    assert new_key.group(1) not in stored

    stats = f"{served.base}/admin/api/stats"
    assert httpx.get(stats, headers={"authorization": f"Bearer {served.admin_token}"}).status_code == 200
    admin = served.cli("keys", "rotate", "--admin-token")
    new_admin = re.search(r"new admin token \(shown once, store it now\): (\S+)", admin.stdout)
    assert admin.returncode == 0 and new_admin
    deadline = time.monotonic() + 15
    while httpx.get(stats, headers={"authorization": f"Bearer {served.admin_token}"}).status_code != 401:
        assert time.monotonic() < deadline, "the old admin token still works"
        time.sleep(0.05)
    assert httpx.get(stats, headers={"authorization": f"Bearer {new_admin.group(1)}"}).status_code == 200
    served.admin_token, served.api_key = new_admin.group(1), new_key.group(1)

    usage = served.cli("keys", "rotate")
    assert usage.returncode == 2 and "--api-key" in usage.stderr


def test_keys_rotate_refuses_a_secret_set_in_the_config(tmp_path: Path) -> None:
    config = write_yaml(tmp_path / "relay.yaml", config_dict(free_port(), tmp_path / "relay.db"))
    result = relay_here("keys", "rotate", "--api-key", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "server.api_keys: the API key is set in the config" in result.stderr


def test_send_test_event_shows_the_pixel_id_and_one_readable_outcome(served: Served) -> None:
    config = yaml.safe_load(served.config.read_text())
    config["connectors"]["meta"]["api_base"] = f"{served.base}/sandbox/meta"
    path = write_yaml(served.cwd / "ste.yaml", config)
    result = relay("send-test-event", "--connector", "meta", "--config", str(path), cwd=served.cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"> POST {served.base}/sandbox/meta/v26.0/1234567890/events?access_token=***" in result.stdout
    assert "sandbox-meta-token" not in result.stdout and "[phone]" not in result.stdout
    assert result.stdout.count("outcome:") == 1
    assert "outcome: Delivered (HTTP 200): the platform accepted the event" in result.stdout
    assert result.stdout.count("fbtrace_id") == 1  # the platform's answer once, not again in the outcome


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("relay: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_db_upgrade_against_an_unreachable_postgresql_names_the_cause(tmp_path: Path) -> None:
    config = write_yaml(tmp_path / "pg.yaml", {"storage": {"url": "postgresql://postgres@127.0.0.1:1/test"}})
    # the program itself once (the worker sets up logging for its process: never run in this one)
    results = [relay("worker", "--config", str(config), cwd=tmp_path)]
    here = (["db", "upgrade"], ["deliveries"], ["keys", "rotate", "--api-key"])
    results += [relay_here(*command, "--config", str(config), cwd=tmp_path) for command in here]
    for command, result in zip((["worker"], *here), results, strict=True):
        assert result.returncode == 1, command
        line = one_line_error(result)
        assert "Connection refused" in line and "Wraps a DB-API" not in line, command


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("postgresql://no_such_role_15@127.0.0.1:5432/test", 'role "no_such_role_15" does not exist'),
        ("postgresql://postgres@127.0.0.1:5432/no_such_db_15", 'database "no_such_db_15" does not exist'),
    ],
)
def test_db_upgrade_names_a_missing_role_or_database(tmp_path: Path, url: str, cause: str) -> None:
    config = write_yaml(tmp_path / "pg.yaml", {"storage": {"url": url}})
    result = relay_here("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1 and cause in one_line_error(result)


def test_serve_with_a_bad_storage_url_or_a_busy_port_says_why_in_one_line(
    served: Served, tmp_path: Path
) -> None:
    config = yaml.safe_load(served.config.read_text())
    config["storage"]["url"] = "not a url"
    bad = write_yaml(tmp_path / "bad.yaml", config)
    result = relay("serve", "--config", str(bad), "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert "storage.url: not a usable storage URL" in one_line_error(result)
    assert "serving" not in result.stdout

    config["storage"]["url"] = f"sqlite:///{tmp_path / 'other.db'}"
    busy = write_yaml(tmp_path / "busy.yaml", config)
    result = relay("serve", "--config", str(busy), "--port", str(served.port), cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{served.port}: Address already in use" in one_line_error(result)


def test_version_help_and_every_flag_explained(tmp_path: Path) -> None:
    from relay.cli import parser

    version = relay("--version", cwd=tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"relay \d+\.\d+\.\d+\S*\n", version.stdout)
    bare = relay_here(cwd=tmp_path)
    assert bare.returncode == 0 and "usage: relay" in bare.stdout and "keys" in bare.stdout
    assert "Exit codes" in bare.stdout

    missing: list[str] = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(parser(), "relay")
    assert not missing, missing
    help_text = relay_here("deliveries", "--help", cwd=tmp_path).stdout
    assert "--event-id" in help_text and "RELAY_EVENT_ID" in help_text
