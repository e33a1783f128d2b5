"""Polls ``/healthz`` from a process of its own, so the attacker's own work never delays the timing.

``python -m tests.hostile.healthz_probe PORT INTERVAL``: polls until its stdin closes, then prints one
JSON line ``{"latencies": [...], "at": [...], "failures": [...]}`` (``at``: when each request started,
seconds after the probe began). Only the request itself is timed.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def main(port: int, interval: float) -> None:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    latencies: list[float] = []
    at: list[float] = []
    begin = time.perf_counter()
    failures: list[str] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            at.append(started - begin)
            if response.status != 200:
                failures.append(f"status {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        stop.wait(interval)
    print(json.dumps({"latencies": latencies, "at": at, "failures": failures}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
