"""Runs the service's workers as threads, restarts a failed one, and gives up past a limit.

A worker fails when it raises, or when it returns although nobody asked it to stop: a worker
that quietly ends leaves the service half-running, so it is restarted like a crashed one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Target = Callable[[threading.Event], None]

RETURNED = "returned without being asked to stop"


@dataclass
class _Worker:
    name: str
    target: Target
    thread: threading.Thread | None = None
    failures: list[float] = field(default_factory=list)  # monotonic times
    restarts: int = 0
    last_failure: str | None = None
    last_failure_at: float | None = None  # wall-clock time, for the health snapshot


class Supervisor:
    """One stop event for everything; a worker that fails too often stops the whole service."""

    def __init__(self, stop: threading.Event, *, max_restarts: int = 5,
                 window_s: float = 60.0) -> None:
        self.stop = stop
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.failed: str | None = None
        self._workers: list[_Worker] = []

    def add(self, name: str, target: Target) -> None:
        self._workers.append(_Worker(name, target))

    def start(self) -> None:
        for worker in self._workers:
            self._launch(worker)

    def _launch(self, worker: _Worker) -> None:
        def body() -> None:
            try:
                worker.target(self.stop)
            except Exception as exc:
                log.exception("worker %s crashed", worker.name)
                self._record_failure(worker, f"crashed ({type(exc).__name__})")
                return
            if not self.stop.is_set():
                log.error("worker %s %s", worker.name, RETURNED)
                self._record_failure(worker, RETURNED)

        worker.thread = threading.Thread(target=body, name=worker.name, daemon=True)
        worker.thread.start()

    @staticmethod
    def _record_failure(worker: _Worker, reason: str) -> None:
        worker.last_failure, worker.last_failure_at = reason, time.time()
        worker.failures.append(time.monotonic())

    def check(self) -> None:
        """Restart failed workers; stop everything if one fails too often."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.thread is None or worker.thread.is_alive() or self.stop.is_set():
                continue
            recent = [t for t in worker.failures if now - t < self.window_s]
            if not recent:
                continue
            if len(recent) > self.max_restarts:
                self.failed = (f"{worker.name} failed {len(recent)} times in "
                               f"{self.window_s:.0f} s (last: {worker.last_failure})")
                log.error("giving up: %s", self.failed)
                self.stop.set()
                return
            worker.restarts += 1
            log.warning("restarting worker %s (it %s)", worker.name, worker.last_failure)
            self._launch(worker)

    def status(self) -> dict[str, Any]:
        """Each worker for the health snapshot: running, restarts, its last failure and when."""
        return {w.name: {"running": w.thread is not None and w.thread.is_alive(),
                         "restarts": w.restarts, "last_failure": w.last_failure,
                         "last_failure_at": w.last_failure_at} for w in self._workers}

    def join(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
