"""``relay serve --workers N``: one listening socket, N server processes accepting on it."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from relay.exceptions import RelayError

log = logging.getLogger("relay.server")


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket every server process accepts on (bound once, by the supervisor)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RelayError(f"could not serve on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: a process that ends sooner than this after it was started is not restarted: the next would fail alike
MIN_UPTIME_SECONDS = 5.0


class Supervisor:
    """``relay serve --workers N``: N server processes accepting on one socket, each a whole relay (its
    own event loop and group commit); one that dies is restarted, a stop signal stops them all."""

    def __init__(
        self, target: Callable[..., None], args: tuple[Any, ...], workers: int, grace: float
    ) -> None:
        self.target = target
        self.args = args
        self.count = workers
        self.grace = grace
        self.context = multiprocessing.get_context("spawn")
        self.processes: dict[int, tuple[BaseProcess, float]] = {}
        self.stopping = False

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; 0, or 1 when a process failed right after it started."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        failed = False
        try:
            for index in range(self.count):
                self._spawn(index)
            while not self.stopping:
                failed = self._reap()
                if failed:
                    break
                wait([p.sentinel for p, _ in self.processes.values()], timeout=0.5)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if failed else 0

    def _spawn(self, index: int) -> None:
        process = self.context.Process(target=self.target, args=(*self.args, index), name=f"relay-{index}")
        process.start()
        self.processes[index] = (process, time.monotonic())

    def _reap(self) -> bool:
        """Restart a process that ended on its own; True when one ended too soon to retry."""
        for index, (process, started) in list(self.processes.items()):
            if process.is_alive() or self.stopping:
                continue
            if time.monotonic() - started < MIN_UPTIME_SECONDS:
                log.error("server process ended at start", extra={"worker": index, "code": process.exitcode})
                return True
            log.error(
                "server process ended; restarting it", extra={"worker": index, "code": process.exitcode}
            )
            self._spawn(index)
        return False

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for process, _ in self.processes.values():
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + self.grace
        for process, _ in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
