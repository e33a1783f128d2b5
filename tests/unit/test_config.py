"""Configuration: the example loads, interpolation, and errors that name the file and key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.config import interpolate, load_settings
from relay.exceptions import ConfigError

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_config_example_loads_with_every_section() -> None:
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.sandbox is True
    assert settings.storage.url == "sqlite:///relay.db"
    assert set(settings.connectors) == {"meta", "x"}
    meta = settings.connectors["meta"]
    assert meta.type == "meta" and type(meta).__name__ == "MetaSettings"
    assert meta.consent.tcf_purposes == (1, 3, 4, 7) and meta.consent.us_opt_out == "ldu"
    assert type(settings.connectors["x"]).__name__ == "XSettings"
    assert settings.consent.default.eu == "deny" and settings.consent.default.unknown == "deny"
    assert set(settings.audiences) == {"customers", "browsed_not_bought"}
    assert settings.audiences["browsed_not_bought"].source.include == ("ViewContent", "AddToCart")


def test_interpolation_with_defaults_and_missing_variables() -> None:
    env = {"TOKEN": "abc"}
    tree = {"a": "${TOKEN}", "b": ["x-${MISSING:-dflt}"], "c": {"d": "${EMPTY:-}"}, "n": 5}
    assert interpolate(tree, env=env) == {"a": "abc", "b": ["x-dflt"], "c": {"d": ""}, "n": 5}
    with pytest.raises(ConfigError) as err:
        interpolate({"connectors": {"meta": {"access_token": "${META_TOKEN}"}}}, env={})
    assert "connectors.meta.access_token" in str(err.value) and "META_TOKEN" in str(err.value)


META_BLOCK = (
    "connectors:\n  meta:\n    type: meta\n    pixel_id: '1'\n    access_token: t\n    api_base: http://x\n"
)


def test_every_tcf_purpose_from_1_to_11_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, META_BLOCK + f"    consent: {{tcf_purposes: {list(range(1, 12))}}}\n")
    assert load_settings(path).connectors["meta"].consent.tcf_purposes == tuple(range(1, 12))


def test_relay_check_rejects_a_purpose_outside_1_to_11(tmp_path: Path) -> None:
    bad = write(
        tmp_path, META_BLOCK.replace("meta:", "shop_meta:") + "    consent: {tcf_purposes: [1, 13]}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "relay", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{bad}: connectors.shop_meta.consent.tcf_purposes" in result.stderr
    assert "1 to 11" in result.stderr and "13" in result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  prot: 8000\n", "server.prot: unknown key"),
        ("delivery:\n  max_attempts: -1\n", "delivery.max_attempts"),
        (
            "connectors:\n  meta:\n    type: meta\n    access_token: t\n    api_base: http://x\n",
            "connectors.meta.pixel_id",
        ),
        (
            "connectors:\n  m:\n    type: nope\n    api_base: http://x\n",
            "connectors.m.type: unknown connector type 'nope'",
        ),
        (
            "connectors:\n  meta:\n    type: meta\n    pixel_id: '1'\n    access_token: t\n    api_base: http://x\n"
            "    consent: {us_opt_out: maybe}\n",
            "connectors.meta.consent.us_opt_out",
        ),
        (META_BLOCK + "    consent: {tcf_purposes: [1, 3, 12]}\n", "connectors.meta.consent.tcf_purposes"),
        (META_BLOCK + "    consent: {tcf_purposes: [0]}\n", "numbered 1 to 11, got [0]"),
        (META_BLOCK + "    consent: {tcf_purposes: [24]}\n", "numbered 1 to 11, got [24]"),
        (META_BLOCK + "    consent: {tcf_purposes: [yes]}\n", "connectors.meta.consent.tcf_purposes"),
        ("audiences:\n  a:\n    source: {type: csv}\n", "audiences.a.source.path"),
        ("server: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_relay_check_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "relay", "check", "--config", str(ROOT / "config.example.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout and "connector meta: type meta" in ok.stdout
    bad = write(tmp_path, "server:\n  max_batch: lots\n")
    result = subprocess.run(
        [sys.executable, "-m", "relay", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1  # one clear line, no traceback
    assert f"{bad}: server.max_batch" in result.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "relay", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "RELAY_CONFIG": str(tmp_path / "nope.yaml")},
    )
    assert missing.returncode == 2 and "nope.yaml: cannot read the file" in missing.stderr
