"""Runs the service's workers as threads, restarts a crashed one, and gives up past a limit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Target = Callable[[threading.Event], None]


@dataclass
class _Worker:
    name: str
    target: Target
    thread: threading.Thread | None = None
    crashes: list[float] = field(default_factory=list)


class Supervisor:
    """One stop event for everything; a worker that crashes too often stops the whole service."""

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
            except Exception:
                log.exception("worker %s crashed", worker.name)
                worker.crashes.append(time.monotonic())

        worker.thread = threading.Thread(target=body, name=worker.name, daemon=True)
        worker.thread.start()

    def check(self) -> None:
        """Restart crashed workers; stop everything if one crashes too often."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.thread is None or worker.thread.is_alive() or self.stop.is_set():
                continue
            recent = [t for t in worker.crashes if now - t < self.window_s]
            if not recent:
                continue
            if len(recent) > self.max_restarts:
                self.failed = f"{worker.name} crashed {len(recent)} times in {self.window_s:.0f} s"
                log.error("giving up: %s", self.failed)
                self.stop.set()
                return
            log.warning("restarting worker %s", worker.name)
            self._launch(worker)

    def join(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
