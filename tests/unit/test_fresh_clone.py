"""`make test` passes from a fresh clone: nothing the tests or the code read lives outside the checkout.

A clone has no ``../shared`` (nor anything else beside it), so no file may point there, no path may
climb above the repository root, and every vector file a test reads must be in the repository under
``tests/`` (and committed, when this is a git checkout). ``.ci/run`` proves the same by running the
suite in a clone made in an empty temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import VECTORS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
#: what is not the project's own: generated, installed or cached
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}
#: data and docs may quote anything; code, build and CI files may not point outside the checkout
CHECKED = {".py", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".sh", ".mjs", ".js", ".json"}
CHECKED_NAMES = {"Makefile", "run"}
DATA_DIRS = ("tests/vectors", "tests/corpus")
#: "../shared" (or "..\\shared"), or the machine's own copy of it
OUTSIDE = re.compile(r"\.\.[/\\]+shared\b|/work/shared\b|\bos\.pardir\b")
#: a path climbing from ``__file__``: ``.parent`` steps and ``.parents[n]``
CLIMB = re.compile(r"__file__\)?(?:\.resolve\(\))?((?:\.parents?(?:\[\d+\])?)+)")
#: a file a test reads from the vectors, e.g. ``vectors_dir / "tcf_public.json"``
VECTOR_READ = re.compile(r"""(vectors_dir|"vectors"|"corpus")\s*/\s*"([^"/]+\.[a-z]+)\"""")


def project_files() -> Iterator[Path]:
    for folder, dirs, names in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not (here / d).relative_to(ROOT).as_posix().startswith(DATA_DIRS)
        )
        for name in sorted(names):
            path = here / name
            if path.suffix in CHECKED or name in CHECKED_NAMES:
                yield path


def levels_up(chain: str) -> int:
    """How far above a file's own folder a ``.parent``/``.parents[n]`` chain goes (0: the folder)."""
    steps = -1
    for step in re.findall(r"\.parents\[(\d+)\]|\.parent\b", chain):
        steps += int(step) + 1 if step else 1
    return steps


def test_the_checks_see_the_project() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in project_files()}
    assert {"Makefile", ".ci/run", "pyproject.toml", "tests/conftest.py", "relay/app.py"} <= files
    assert not any(f.startswith(".venv/") for f in files)


@pytest.mark.parametrize(
    ("chain", "levels"),
    [
        (".parent", 0),
        (".parent.parent", 1),
        (".parents[0]", 0),
        (".parents[2]", 2),
        (".parents[1].parent", 2),
    ],
)
def test_levels_up(chain: str, levels: int) -> None:
    assert levels_up(chain) == levels


def test_no_file_points_outside_the_checkout() -> None:
    found = []
    for path in project_files():
        if path == Path(__file__).resolve():
            continue
        rel = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
            # a file at depth d (tests/unit/x.py: d = 2) reaches the root d levels above its folder
            for chain in CLIMB.findall(line):
                if levels_up(chain) > len(rel.parts) - 1:
                    found.append(f"{rel}:{n}: climbs above the checkout: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_vectors_are_in_the_repository() -> None:
    assert VECTORS.is_relative_to(ROOT / "tests")
    read = {
        (where, name)
        for path in (ROOT / "tests").rglob("*.py")
        for where, name in VECTOR_READ.findall(path.read_text(encoding="utf-8"))
    }
    folders = {
        "vectors_dir": VECTORS,
        '"vectors"': ROOT / "tests" / "vectors",
        '"corpus"': ROOT / "tests" / "corpus",
    }
    wanted = {folders[where] / name for where, name in read}
    assert len(wanted) >= 7  # the five public vector files, the IAB GPP vectors and the normalisation corpus
    assert sorted(str(p.relative_to(ROOT)) for p in wanted if not p.is_file()) == []
    assert untracked(wanted) == []


def untracked(paths: set[Path]) -> list[str]:
    """Those of ``paths`` git does not track (none when this is not a git checkout: an sdist, say)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return []
    rels = sorted(str(p.relative_to(ROOT)) for p in paths)
    listed = subprocess.run(
        [git, "ls-files", "--", *rels], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted(set(rels) - set(listed))
