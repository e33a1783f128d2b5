"""`make bench`: every benchmark, each printing its figures as ratios against a baseline or a budget.

Run alone: `python bench/run.py [--quick]`. `--quick` shortens the runs (for a smoke check, not for
the figures in the README).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(title: str, args: list[str]) -> int:
    print(f"\n== {title}: python {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, *args], cwd=ROOT).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs for a smoke check")
    quick = parser.parse_args().quick
    failures = 0
    failures += run("pixel.js size", ["bench/snippet_size.py"])
    failures += run("ingest", ["bench/ingest.py", *(["--seconds", "2", "--rounds", "1"] if quick else [])])
    failures += run(
        "ingest CPU per request, in process",
        ["-m", "bench.ingest_inproc", *(["--requests", "3000", "--rounds", "1"] if quick else [])],
    )
    failures += run("hashing", ["bench/hashing.py", "50000" if quick else "200000"])
    failures += run("audiences", ["bench/audiences.py", *(["--rows", "20000"] if quick else [])])
    failures += run(
        "outbox claims", ["bench/outbox.py", *(["--large", "100000", "--rounds", "10"] if quick else [])]
    )
    failures += run(
        "delivery", ["bench/delivery.py", *(["--events", "2000", "--rounds", "1"] if quick else [])]
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
