"""Completeness: every built-in connector has tests, docs and an example; public APIs are listed."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BUILTINS = sorted(
    ep.name for ep in entry_points(group="relay.connectors") if ep.value.startswith("connectors.")
)


def test_builtins_register_through_the_entry_point_group() -> None:
    assert {"meta", "x"} <= set(BUILTINS)
    assert '[project.entry-points."relay.connectors"]' in README


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_connector_has_tests_docs_and_an_example(name: str) -> None:
    assert list((ROOT / "tests" / "connectors").glob(f"test_{name}_*.py")), f"no tests for {name}"
    assert f"    type: {name}\n" in README, f"no README example block for {name}"
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    assert any(block.get("type") == name for block in example["connectors"].values())


@pytest.mark.parametrize("module", ["relay.exceptions", "relay.types", "relay.consent", "connectors.base"])
def test_public_all_is_sorted_and_complete(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert names == sorted(names, key=_isort_style), f"{module}.__all__ is not sorted"
    missing = [
        name
        for name, obj in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", "") == module
        and name not in names
    ]
    assert not missing, f"{module} defines public names missing from __all__: {missing}"


def _isort_style(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_every_cli_command_is_documented() -> None:
    from relay.cli import parser

    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        assert f"`relay {command}" in README, f"relay {command} is not in the README"
