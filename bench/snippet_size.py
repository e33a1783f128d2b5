"""Size of the browser snippet ``relay/ingest/snippet/pixel.js`` as served, raw and gzipped.

Run: ``python bench/snippet_size.py``. The budget is 4,096 bytes gzipped (CONTRACT §3: "goal: under
4 KB gzipped"); the ratio printed is gzipped size / budget, so anything at or under 1.00 meets it.
Exit status 1 when the snippet is over budget, so CI can use it as a check.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

SNIPPET = Path(__file__).resolve().parents[1] / "relay" / "ingest" / "snippet" / "pixel.js"
BUDGET_BYTES = 4096


def gzipped_size(data: bytes) -> int:
    """Bytes after gzip at level 9 (what a CDN or reverse proxy typically serves), header included."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> int:
    raw = SNIPPET.read_bytes()
    packed = gzipped_size(raw)
    ratio = packed / BUDGET_BYTES
    print(f"pixel.js: {len(raw):,} bytes raw, {packed:,} bytes gzipped")
    verdict = "within budget" if ratio <= 1 else "OVER budget"
    print(f"pixel.js gzipped / budget {BUDGET_BYTES:,} B = {ratio:.2f} ({verdict})")
    return 0 if ratio <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
