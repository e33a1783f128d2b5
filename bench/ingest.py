"""Ingest throughput and latency: `relay serve` (SQLite, durable ack) against a bare Starlette app.

Both run with the same number of server processes (`--workers 1,2`: `relay serve --workers N` and
`uvicorn --workers N`) and the same options; the load generators are Debian's
`wrk` (closed loop, throughput) and `hey` (rate limited, latency at a steady 1,000 requests/s).
Runs alternate relay / bare so both see the same machine state. Prints requests/s, p50/p99 and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://shop.example"
TC = "CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A"
EVENT = {
    "event_name": "ViewContent",
    "event_source_url": "https://shop.example/product/42?utm_source=x",
    "custom": {"content_ids": ["sku-42"], "value": 19.9, "currency": "EUR"},
    "consent": {"tcf": TC, "gdpr_applies": True, "gcm": {"ad_storage": "granted", "ad_user_data": "granted"}},
}
#: a returning visitor: the first-party cookies are already set
COOKIES = "_rl_id=bench-visitor-0123456789; _fbp=fb.1.1767000000000.1234567890"
GIF_QUERY = "ev=PageView&url=https%3A%2F%2Fshop.example%2F&gcs=G111"
#: event ids are unique across the whole bench: a per-run nonce (rounds reuse the relay's database, and
#: wrk's ``math.random`` is unseeded, so a counter alone repeats the previous round's ids: duplicates)
WRK_SCRIPT = """
counter = 0
nonce = "%s"
threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "%s"
wrk.headers["User-Agent"] = "Mozilla/5.0 (bench)"
wrk.headers["Cookie"] = "%s"
local template = '%s'
request = function()
  counter = counter + 1
  local body = string.gsub(template, "EVENT_ID", "bench-" .. nonce .. "-" .. (tid or 0) .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
"""


def collect_script(tmp: Path) -> Path:
    """The wrk script of one run: its own nonce in every event id (a fresh script per run)."""
    script = tmp / "collect.lua"
    event_json = json.dumps({**EVENT, "event_id": "EVENT_ID"}).replace("'", "\\'")
    script.write_text(WRK_SCRIPT % (uuid.uuid4().hex, ORIGIN, COOKIES, event_json))
    return script


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        sys.exit(f"bench: {tool} is not installed (apt-get install {tool})")
    return path


def start(cmd: list[str], url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"bench: {' '.join(cmd)} did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def relay_config(tmp: Path, port: int, storage_url: str | None = None) -> Path:
    config = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "allowed_origins": [ORIGIN],
            "api_keys": ["bench-key"],
            "admin_token": "bench-admin",
        },
        "storage": {"url": storage_url or f"sqlite:///{tmp / 'bench.db'}"},
        "sandbox": True,
        "connectors": {
            "meta": {
                "type": "meta",
                "pixel_id": "1",
                "access_token": "t",
                "api_base": f"http://127.0.0.1:{port}/sandbox/meta",
                "consent": {"tcf_purposes": [1, 3, 4, 7]},
            },
            "x": {
                "type": "x",
                "pixel_id": "o8z6j",
                "event_tags": {"ViewContent": "o87ne"},
                "pixel_token": "t",
                "api_base": f"http://127.0.0.1:{port}/sandbox/x",
                "consent": {"tcf_purposes": [1, 3, 4, 7]},
            },
        },
    }
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> dict[str, float]:
    cmd = [need("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += (
        ["-s", str(script)]
        if script
        else ["-H", f"Cookie: {COOKIES}", "-H", "User-Agent: Mozilla/5.0 (bench)"]
    )
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _wrk_ms(out, "50%"),
        "p99": _wrk_ms(out, "99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0,
    }


def _wrk_ms(out: str, pct: str) -> float:
    match = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def hey(url: str, body: Path | None, seconds: int, rate: int) -> dict[str, float]:
    workers = 20
    cmd = [need("hey"), "-z", f"{seconds}s", "-c", str(workers), "-q", str(rate // workers)]
    if body:
        cmd += ["-m", "POST", "-T", "application/json", "-H", f"Origin: {ORIGIN}", "-D", str(body)]
    cmd += ["-H", f"Cookie: {COOKIES}", "-H", "User-Agent: Mozilla/5.0 (bench)"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    pct = {m.group(1): float(m.group(2)) * 1000 for m in re.finditer(r"(\d+)%+ in ([\d.]+) secs", out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    bad = sum(int(n) for code, n in codes.items() if not code.startswith("2"))
    return {
        "rps": rps,
        "p50": pct.get("50", float("nan")),
        "p99": pct.get("99", float("nan")),
        "errors": float(bad),
    }


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--seconds", type=int, default=8)
    args.add_argument("--rounds", type=int, default=2)
    args.add_argument("--connections", type=int, default=32)
    args.add_argument("--rate", type=int, default=1000)
    args.add_argument("--workers", default="1,2", help="server processes per run, comma-separated")
    args.add_argument("--storage-url", help="the relay's storage (default: a fresh SQLite file per run)")
    opts = args.parse_args(argv)
    print(f"ingest benchmark: {opts.rounds} alternating rounds of {opts.seconds}s, median shown")
    for workers in [int(n) for n in opts.workers.split(",")]:
        report(measure(opts, workers), opts, workers)


def measure(opts: argparse.Namespace, workers: int) -> dict[tuple[str, str, str], list[dict[str, float]]]:
    """The relay and the bare app, each with ``workers`` server processes, in alternating rounds."""
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    relay_port, bare_port = 18081, 18082
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    config = relay_config(tmp, relay_port, opts.storage_url)
    relay_cmd = [sys.executable, "-m", "relay", "serve", "--no-worker", "--config", str(config)]
    relay = start([*relay_cmd, "--workers", str(workers)], f"http://127.0.0.1:{relay_port}/healthz", env)
    bare_cmd = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port)]
    bare_cmd += ["--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    bare = start(bare_cmd, f"http://127.0.0.1:{bare_port}/p.gif", env)
    try:
        body = tmp / "event.json"
        body.write_text(json.dumps(EVENT))
        results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
        for _ in range(opts.rounds):
            for name, port in (("relay", relay_port), ("bare", bare_port)):
                base = f"http://127.0.0.1:{port}"
                script = collect_script(tmp)
                results.setdefault(("collect", "wrk", name), []).append(
                    wrk(f"{base}/v1/collect", script, opts.seconds, opts.connections)
                )
                results.setdefault(("gif", "wrk", name), []).append(
                    wrk(f"{base}/p.gif?{GIF_QUERY}", None, opts.seconds, opts.connections)
                )
                results.setdefault(("collect", "hey", name), []).append(
                    hey(f"{base}/v1/collect", body, opts.seconds, opts.rate)
                )
        return results
    finally:
        for proc in (relay, bare):
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    results: dict[tuple[str, str, str], list[dict[str, float]]], opts: argparse.Namespace, workers: int
) -> None:
    def med(key: tuple[str, str, str], field: str) -> float:
        return statistics.median(r[field] for r in results[key])

    storage = "PostgreSQL" if opts.storage_url else "SQLite"
    plural = "es" if workers > 1 else ""
    print(f"\n{workers} server process{plural} each (relay serve --workers {workers}, {storage})")
    head = f"{'endpoint':<26}{'relay req/s':>12}{'bare req/s':>12}{'ratio':>8}"
    print(f"{head}{'relay p50/p99 ms':>20}{'bare p50/p99 ms':>18}")
    for endpoint, tool, label in (
        ("collect", "wrk", f"POST /v1/collect (c={opts.connections})"),
        ("gif", "wrk", f"GET /p.gif (c={opts.connections})"),
        ("collect", "hey", f"POST /v1/collect @{opts.rate}/s"),
    ):
        r, b = (endpoint, tool, "relay"), (endpoint, tool, "bare")
        ratio = med(r, "rps") / med(b, "rps")
        print(
            f"{label:<26}{med(r, 'rps'):>12.0f}{med(b, 'rps'):>12.0f}{ratio:>8.2f}"
            f"{med(r, 'p50'):>10.1f}/{med(r, 'p99'):<9.1f}{med(b, 'p50'):>8.1f}/{med(b, 'p99'):<9.1f}"
        )
        errors = sum(x["errors"] for x in results[r])
        if errors:
            print(f"  warning: {errors:.0f} non-2xx answers from the relay")


if __name__ == "__main__":
    main()
