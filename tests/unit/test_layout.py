"""The README's module map ("How it works") matches the package layout (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RELAY = ROOT / "relay"
#: rows that list every module of their package
LISTED = ("http", "ingest", "normalize", "cli", "storage", "delivery", "consent")


def _module_map() -> dict[str, str]:
    """First cell → second cell of each row of the module map table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| package | what it does |") :].split("\n\n", 1)[0]
    rows = [line.split(" | ", 1) for line in table.splitlines()[2:]]
    return {first.removeprefix("| "): second for first, second in rows}


def _modules(package: Path) -> set[Path]:
    return {
        path.relative_to(package)
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "migrations" not in path.parts
    }


def test_every_package_and_top_level_module_has_a_row() -> None:
    cells = " ".join(_module_map())
    packages = [p.name for p in RELAY.iterdir() if (p / "__init__.py").is_file()]
    assert packages and all(f"`relay/{name}/`" in cells for name in packages), cells
    top = [p.name for p in RELAY.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [name for name in top if f"`{name}`" not in cells and f"`relay/{name}`" not in cells]
    assert not missing, f"top-level modules missing from the README module map: {missing}"


def test_every_named_path_exists() -> None:
    for first in _module_map():
        named = re.findall(r"`([^`]+)`", first)
        base = Path(named[0]).parent
        for name in named:
            path = ROOT / name if name.startswith(("relay/", "connectors/")) else ROOT / base / name
            assert path.exists(), f"the README module map names {name}, which does not exist"


@pytest.mark.parametrize("package", LISTED)
def test_each_listed_package_row_names_exactly_its_modules(package: str) -> None:
    text = _module_map()[f"`relay/{package}/`"]
    names = set(re.findall(r"`([\w/]+\.py)`", text)) | {
        f"{sub}{n}"
        for sub, inner in re.findall(r"`(\w+/)` \(([^)]*)\)", text)
        for n in re.findall(r"`(\w+\.py)`", inner)
    }
    modules = _modules(RELAY / package)
    unnamed = sorted(str(m) for m in modules if m.name not in names and str(m) not in names)
    assert not unnamed, f"relay/{package}/ modules missing from its README row: {unnamed}"
    stale = sorted(
        n for n in names if not any(m.name == n for m in modules) and not (RELAY / package / n).exists()
    )
    assert not stale, f"the README row of relay/{package}/ names modules that do not exist: {stale}"


def test_moved_modules_keep_their_public_names() -> None:
    """``relay.normalize`` stays the entry point for contact details, ``relay.cli:main`` the command."""
    import relay.cli
    import relay.normalize

    assert callable(relay.cli.main) and callable(relay.cli.parser)
    for name in relay.normalize.__all__:
        assert callable(getattr(relay.normalize, name)), name
    assert {"hash_user", "member_from_row", "normalize_email", "normalize_phone", "sha256_hex"} <= set(
        relay.normalize.__all__
    )
