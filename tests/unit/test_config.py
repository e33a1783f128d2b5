"""Configuration: the example loads, interpolation, and errors that name the file and key path."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relay.cli import main as relay_main
from relay.config import interpolate, load_settings
from relay.exceptions import ConfigError

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_config_example_loads_with_every_section() -> None:
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.sandbox is True
    assert settings.storage.url == "sqlite:///relay.db"
    assert {"meta", "x"} <= set(settings.connectors)  # other platforms are added next to them
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
    result = run_check(bad)
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


# -- every problem at once, typos with a suggestion (issue 15) ---------------------------------------


def test_a_typo_is_named_with_a_suggestion_before_the_problems_it_causes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server:\n  prot: 8000\nconnectors:\n  meta:\n    type: meta\n    pixel_id: '1'\n"
        "    acces_token: t\n    api_base: http://x\n    consent: {tcf_purposes: [12], gmc: []}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    first, *rest = text.splitlines()
    # the first line is an unknown key, never the "missing" value that the typo caused
    assert first.startswith(f"{path}: ") and "unknown key" in first
    assert "connectors.meta.acces_token: unknown key acces_token (did you mean access_token?)" in text
    assert "server.prot: unknown key prot (did you mean port?)" in text
    assert "connectors.meta.consent.gmc: unknown key gmc (did you mean gcm?)" in text
    # every other problem is listed too, after the unknown keys
    assert "connectors.meta.consent.tcf_purposes" in text and "1 to 11" in text
    assert "connectors.meta.access_token: required value is missing" in text
    assert "(and 4 more problems:)" in first and len(rest) == 4
    assert text.index("did you mean access_token") < text.index("required value is missing")


def test_an_unknown_key_without_a_close_match_gets_no_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "storage:\n  zzzzzz: 1\n"))
    assert str(err.value).endswith("storage.zzzzzz: unknown key zzzzzz")


def test_relay_check_lists_every_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, "server:\n  max_batch: lots\n  acces: 1\ndelivery:\n  max_attempts: -1\n")
    result = run_check(bad)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"relay: error: {bad}: server.acces: unknown key acces")
    assert any("server.max_batch" in line for line in lines[1:])
    assert any("delivery.max_attempts" in line for line in lines[1:])
    assert "Traceback" not in result.stderr


def test_defaults_may_hold_variables_and_environment_values_are_not_interpolated_again() -> None:
    tree = {"base": "${BASE:-http://127.0.0.1:${PORT:-8000}/sandbox}/meta"}
    assert interpolate(tree, env={}) == {"base": "http://127.0.0.1:8000/sandbox/meta"}
    assert interpolate(tree, env={"PORT": "18080"}) == {"base": "http://127.0.0.1:18080/sandbox/meta"}
    assert interpolate(tree, env={"BASE": "${PORT}"}) == {"base": "${PORT}/meta"}
    assert interpolate({"a": "cost ${ and } ${X:-1}"}, env={}) == {"a": "cost ${ and } 1"}
    with pytest.raises(ConfigError):
        interpolate({"a": "${X:-${MISSING}}"}, env={})


def test_the_example_sandbox_urls_follow_relay_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_PORT", "18080")
    monkeypatch.delenv("RELAY_SANDBOX_BASE", raising=False)
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.server.port == 18080
    for name, block in settings.connectors.items():
        assert block.api_base.startswith("http://127.0.0.1:18080/sandbox/"), name


# -- relay check: configs that load but drop data ----------------------------------------------------


def run_check(path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``relay check`` run in this process, its output captured: a second of interpreter start-up per
    call saved (the program itself, exit codes and one-line errors, is run by test_relay_check_exit_codes)."""
    argv = ["check", "--config", str(path), *args]
    out, err, previous = io.StringIO(), io.StringIO(), Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = relay_main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def test_relay_check_refuses_a_meta_pixel_id_that_is_not_digits(tmp_path: Path) -> None:
    result = run_check(write(tmp_path, META_BLOCK.replace("pixel_id: '1'", "pixel_id: my-pixel")))
    assert result.returncode == 2, result.stdout
    assert "connectors.meta.pixel_id: 'my-pixel' is not a Meta pixel (dataset) id" in result.stderr
    assert result.stdout == ""


X_BLOCK = "connectors:\n  x:\n    type: x\n    pixel_id: o8z6j\n    pixel_token: tok\n    api_base: https://ads-api.x.com\n"


def test_relay_check_warns_that_an_x_connector_without_event_tags_skips_everything(tmp_path: Path) -> None:
    result = run_check(write(tmp_path, X_BLOCK))
    assert result.returncode == 0, result.stderr
    assert "warning: connectors.x.event_tags is empty" in result.stdout and "every" in result.stdout
    tagged = run_check(write(tmp_path, X_BLOCK + "    event_tags: {Purchase: o87ne}\n"))
    assert tagged.returncode == 0 and "event_tags" not in tagged.stdout


def test_relay_check_names_the_tcf_vendor_a_connector_needs(tmp_path: Path) -> None:
    linkedin = "connectors:\n  linkedin:\n    type: linkedin\n    access_token: tok\n"
    result = run_check(write(tmp_path, linkedin))
    assert result.returncode == 0, result.stderr
    assert "connector linkedin: type linkedin" in result.stdout and "tcf vendor 804" in result.stdout
    plain = run_check(write(tmp_path, X_BLOCK + "    event_tags: {Purchase: o87ne}\n"))
    assert "tcf vendor" not in plain.stdout


def test_relay_check_warns_of_secrets_short_enough_to_guess(tmp_path: Path) -> None:
    long_key, short_key, short_token = "k" * 20, "short-key-1", "admin"
    server = f"server:\n  api_keys: [{long_key}, {short_key}]\n  admin_token: {short_token}\n"
    result = run_check(write(tmp_path, server + X_BLOCK + "    event_tags: {Purchase: o87ne}\n"))
    assert result.returncode == 0, result.stderr
    assert "warning: server.api_keys[1] is 11 characters long" in result.stdout
    assert "warning: server.admin_token is 5 characters long" in result.stdout
    assert "server.api_keys[0]" not in result.stdout
    assert short_key not in result.stdout and long_key not in result.stdout  # never the values
    fine = f"server:\n  api_keys: [{long_key}]\n  admin_token: {'t' * 32}\n"
    quiet = run_check(write(tmp_path, fine + X_BLOCK + "    event_tags: {Purchase: o87ne}\n"))
    assert quiet.returncode == 0 and "characters long" not in quiet.stdout


def test_relay_check_finds_a_missing_audience_csv(tmp_path: Path) -> None:
    audience = (
        "audiences:\n  customers:\n    source: {type: csv, path: customers.csv}\n"
        "    destinations: {meta: {audience_id: '1'}}\n"
    )
    path = write(tmp_path, META_BLOCK + audience)
    missing = run_check(path, cwd=tmp_path)
    assert missing.returncode == 2
    assert "audiences.customers.source.path: no such file: customers.csv" in missing.stderr
    (tmp_path / "customers.csv").write_text("email\njane@example.com\n")
    assert run_check(path, cwd=tmp_path).returncode == 0
    # found beside the config but not where the sync reads it (the working directory): a warning
    elsewhere = run_check(path, cwd=ROOT)
    assert elsewhere.returncode == 0 and "not in the working directory" in elsewhere.stdout


def test_relay_check_warns_about_a_connector_sending_to_another_servers_sandbox(tmp_path: Path) -> None:
    block = META_BLOCK.replace("api_base: http://x", "api_base: http://127.0.0.1:9/sandbox/meta")
    result = run_check(write(tmp_path, "server: {port: 18080}\nsandbox: true\n" + block))
    assert result.returncode == 0, result.stderr
    assert "a sandbox address that is not this server" in result.stdout
    own = block.replace(":9/", ":18080/")
    assert (
        "not this server"
        not in run_check(write(tmp_path, "server: {port: 18080}\nsandbox: true\n" + own)).stdout
    )
