"""The deployment files (issue 15): compose.yaml runs the relay on PostgreSQL with separate workers, and
its relay config passes ``relay check`` with the environment compose gives it; the Dockerfile is small,
non-root and health-checked; the systemd unit runs ``relay serve``. No Docker daemon is needed, except by
the image build, which is skipped (saying why) when none answers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
_COMPOSE_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def compose_interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (the error fails the test)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        value = env.get(name)
        if op and op.endswith("?") and not value:
            raise AssertionError(f"compose needs {name}: {arg}")
        if op and op.endswith("-") and not value:
            return arg
        return value or ""

    return _COMPOSE_VAR.sub(replace, text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def service_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    example = dotenv(ROOT / "deploy" / ".env.example")
    raw = compose["services"][name]["environment"]
    return {key: compose_interpolate(str(value), example) for key, value in raw.items()}


def test_compose_runs_servers_and_separate_workers_on_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert "healthcheck" in services["db"]
    serve = services["relay"]["command"]
    assert serve[:2] == ["serve", "--no-worker"]  # HTTP only: delivery is the workers' job
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("relay", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["build"] == "." and services[name]["image"] == services["relay"]["image"]
    env = service_env(compose, "relay")
    assert env["RELAY_DATABASE_URL"].startswith("postgresql+psycopg://relay:")
    assert env["RELAY_DATABASE_URL"].endswith("@db:5432/relay")
    mount = services["relay"]["volumes"][0].split(":")
    assert mount[0] == "./deploy/relay.yaml" and mount[1] == env["RELAY_CONFIG"]


def relay_check(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "META_"))}
    return subprocess.run(
        [sys.executable, "-m", "relay", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
    )


def test_the_compose_relay_config_passes_relay_check(compose: dict[str, Any]) -> None:
    env = service_env(compose, "relay")
    assert service_env(compose, "worker") == env  # servers and workers share one config
    env.pop("RELAY_CONFIG")  # the path inside the container: check the file it mounts
    result = relay_check(ROOT / "deploy" / "relay.yaml", env)
    assert result.returncode == 0, result.stderr
    assert "storage: postgresql+psycopg://relay:***@db:5432/relay" in result.stdout
    assert "sandbox off" in result.stdout and "connector meta: type meta" in result.stdout
    assert "change-me" not in result.stdout  # the password is not printed
    # a secret missing from the environment is named, not silently empty
    missing = relay_check(
        ROOT / "deploy" / "relay.yaml", {k: v for k, v in env.items() if k != "META_ACCESS_TOKEN"}
    )
    assert missing.returncode == 2 and "META_ACCESS_TOKEN is not set" in missing.stderr


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_slim_non_root_and_health_checked() -> None:
    instructions = dockerfile()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert all("slim" in image or "alpine" in image for image in froms)
    user = [arg for op, arg in instructions if op == "USER"][-1]
    assert user not in ("root", "0")
    [health] = [arg for op, arg in instructions if op == "HEALTHCHECK"]
    assert "/healthz" in health
    assert ("ENTRYPOINT", '["relay"]') in instructions and ("EXPOSE", "8000") in instructions
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_the_systemd_unit_serves_as_an_unprivileged_user() -> None:
    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "relay.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("relay serve") and service["User"] == "relay"
    assert service["KillSignal"] == "SIGTERM" and service["RestartPreventExitStatus"] == "2"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def _docker_answers() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    return None if info.returncode == 0 else "no Docker daemon answers (docker info failed)"


@pytest.mark.slow
def test_the_image_builds_and_runs_as_a_non_root_user() -> None:
    reason = _docker_answers()
    if reason:
        pytest.skip(reason)
    tag = "conversion-relay:test"
    build = subprocess.run(
        ["docker", "build", "-t", tag, str(ROOT)], capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", "id -u && relay --version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    uid, version = run.stdout.split("\n", 1)
    assert uid.strip() != "0" and version.startswith("relay ")
