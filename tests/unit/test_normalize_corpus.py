"""Differential test: the relay's normalisers against tests/corpus/normalize.jsonl.

The corpus is written by scripts/make_normalize_corpus.py from libphonenumber's example numbers, ISO 3166
records, postal codes per country and dates rendered by CLDR in 20+ locales, with expected outputs derived
from Meta's documented rules, not from relay code. Every row must match: one wrong hash is a customer who is
never matched.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay.normalize import (
    hash_user,
    normalize_country,
    normalize_date_of_birth,
    normalize_phone,
    normalize_state,
    normalize_zip,
    sha256_hex,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "normalize.jsonl"

NORMALIZERS: dict[str, Callable[[str, str | None], str | None]] = {
    "phone": normalize_phone,
    "country": lambda value, country: normalize_country(value),
    "state": normalize_state,
    "zip": normalize_zip,
    "date_of_birth": normalize_date_of_birth,
}


def _rows() -> list[dict[str, str | None]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_corpus_covers_every_field_and_is_small() -> None:
    rows = _rows()
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[str(row["field"])] += 1
    assert set(counts) == set(NORMALIZERS)
    assert min(counts.values()) >= 100
    assert CORPUS.stat().st_size < 2_000_000


def test_every_corpus_row_normalises_as_the_docs_say() -> None:
    mismatches: dict[str, list[str]] = defaultdict(list)
    for row in _rows():
        field, text, country = str(row["field"]), str(row["input"]), row["country"]
        got = NORMALIZERS[field](text, country)
        if got != row["expected"]:
            mismatches[field].append(f"{text!r} ({country}): got {got!r}, expected {row['expected']!r}")
    report = "\n".join(
        f"{field}: {len(lines)} wrong\n  " + "\n  ".join(lines[:40])
        for field, lines in sorted(mismatches.items())
    )
    assert not mismatches, report


def test_hash_user_hashes_what_the_normalisers_return() -> None:
    """The same corpus through :func:`hash_user`: the digest of the expected form, or the value dropped."""
    keys = {"phone": "ph", "country": "country", "state": "st", "zip": "zp", "date_of_birth": "db"}
    wrong = []
    for row in _rows()[::7]:  # a sample: hash_user adds only the hashing and the country fallback
        field, expected = str(row["field"]), row["expected"]
        user = {field: row["input"]}
        if row["country"] and field != "country":
            user["country"] = row["country"]
        hashed = hash_user(user).hashed.get(keys[field])
        if hashed != ([sha256_hex(expected)] if expected else None):
            wrong.append(f"{field} {row['input']!r} ({row['country']}): {hashed}")
    assert not wrong, "\n".join(wrong[:40])


def _script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "scripts" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "target"),
    [
        ("make_normalize_corpus.py", "tests/corpus/normalize.jsonl"),
        ("make_month_names.py", "relay/normalize/monthnames.py"),
    ],
)
def test_committed_files_are_what_the_scripts_write(script: str, target: str) -> None:
    """The corpus and the month-name table are what the scripts write with the installed libraries."""
    corpus = _script("make_normalize_corpus.py")
    written_with = json.loads((ROOT / "tests" / "corpus" / "versions.json").read_text(encoding="utf-8"))
    if corpus.versions() != written_with:
        pytest.skip(f"written with {written_with}, installed {corpus.versions()}: rerun the scripts")
    module = _script(script)
    assert module.render() == (ROOT / target).read_text(encoding="utf-8"), f"{target} is stale: run {script}"
