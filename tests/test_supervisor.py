"""The supervisor: a worker that crashes or returns unasked is restarted and reported; past the
limit the service stops; a worker that stops when asked is left alone."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
from conftest import wait_for

from gateway.health import StatusBoard, evaluate, gather, status_path, worker_problems
from gateway.store.db import open_db
from gateway.supervisor import RETURNED, Supervisor


class Flaky:
    """A worker that returns (or raises) on its first ``fail_times`` runs, then runs until
    stopped."""

    def __init__(self, fail_times: int, *, raise_error: bool = False) -> None:
        self.fail_times, self.raise_error = fail_times, raise_error
        self.runs = 0
        self.steady = threading.Event()

    def __call__(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.fail_times:
            if self.raise_error:
                raise RuntimeError("boom")
            return
        self.steady.set()
        stop.wait()


def check_until(supervisor: Supervisor, condition: object, what: str) -> None:
    """Run the supervisor's checks (as the service loop does) until ``condition`` holds."""
    def checked() -> bool:
        supervisor.check()
        return bool(condition())  # type: ignore[operator]

    wait_for(checked, timeout=10, what=what)


def test_a_worker_that_returns_unasked_is_restarted_and_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    worker = Flaky(fail_times=1)
    supervisor = Supervisor(stop)
    supervisor.add("transcribe-0", worker)
    with caplog.at_level(logging.WARNING, logger="gateway.supervisor"):
        supervisor.start()
        check_until(supervisor, worker.steady.is_set, "the restarted worker to run")
    status = supervisor.status()["transcribe-0"]
    assert worker.runs == 2
    assert status["running"] and status["restarts"] == 1
    assert status["last_failure"] == RETURNED
    assert abs(status["last_failure_at"] - time.time()) < 60
    messages = [r.getMessage() for r in caplog.records]
    assert f"worker transcribe-0 {RETURNED}" in messages
    assert f"restarting worker transcribe-0 (it {RETURNED})" in messages
    assert supervisor.failed is None and not stop.is_set()
    stop.set()
    supervisor.join(10)


def test_a_crash_is_reported_with_its_error_type() -> None:
    stop = threading.Event()
    worker = Flaky(fail_times=1, raise_error=True)
    supervisor = Supervisor(stop)
    supervisor.add("ingest", worker)
    supervisor.start()
    check_until(supervisor, worker.steady.is_set, "the restarted worker to run")
    assert supervisor.status()["ingest"]["last_failure"] == "crashed (RuntimeError)"
    stop.set()
    supervisor.join(10)


def test_a_worker_returning_past_the_limit_stops_the_service() -> None:
    stop = threading.Event()
    worker = Flaky(fail_times=100)
    supervisor = Supervisor(stop, max_restarts=2, window_s=60)
    supervisor.add("retention", worker)
    supervisor.start()
    check_until(supervisor, stop.is_set, "the supervisor to give up")
    assert worker.runs == 3  # the first run and two restarts
    assert supervisor.failed == f"retention failed 3 times in 60 s (last: {RETURNED})"


def test_a_worker_that_stops_when_asked_is_not_a_failure() -> None:
    stop = threading.Event()
    worker = Flaky(fail_times=0)
    supervisor = Supervisor(stop)
    supervisor.add("upstream", worker)
    supervisor.start()
    wait_for(worker.steady.is_set, timeout=10, what="the worker to run")
    stop.set()
    supervisor.join(10)
    supervisor.check()
    status = supervisor.status()["upstream"]
    assert not status["running"] and status["last_failure"] is None and status["restarts"] == 0
    assert worker.runs == 1


def test_health_names_a_restarted_or_stopped_worker() -> None:
    now = 1_000_000.0
    workers = {
        "ingest": {"running": True, "restarts": 0, "last_failure": None,
                   "last_failure_at": None},
        "transcribe-0": {"running": True, "restarts": 1, "last_failure": RETURNED,
                         "last_failure_at": now - 30},
        "retention": {"running": True, "restarts": 2, "last_failure": "crashed (OSError)",
                      "last_failure_at": now - 3600},
        "upstream": {"running": False, "restarts": 0, "last_failure": None,
                     "last_failure_at": None},
    }
    assert worker_problems(workers, now) == [
        f"the transcribe-0 worker {RETURNED} and was restarted (restarts so far: 1)",
        "the upstream worker is not running",
    ]


def test_the_status_snapshot_carries_the_workers_to_health(tmp_path: Path) -> None:
    data = tmp_path
    stop = threading.Event()
    worker = Flaky(fail_times=1)
    supervisor = Supervisor(stop)
    supervisor.add("capture", worker)
    supervisor.start()
    check_until(supervisor, worker.steady.is_set, "the restarted worker to run")
    board = StatusBoard()
    board.provide("workers", supervisor.status)
    board.write(status_path(data))
    assert json.loads(status_path(data).read_text())["workers"]["capture"]["restarts"] == 1
    db = open_db(data / "gateway.db")
    try:
        facts = gather(data, db, upstream_enabled=False)
    finally:
        db.close()
    state, reasons = evaluate(facts)
    assert state == "degraded"
    assert f"the capture worker {RETURNED} and was restarted (restarts so far: 1)" in reasons
    stop.set()
    supervisor.join(10)
