"""The service's child process: the web UI and the badges' upload API, restarted with a back-off
if it dies.

Both faces run in one process of their own (``python -m webui.faces``: one gunicorn master and
one worker, each face on its own listener with its own certificate and app) so a slow page, a
slow upload or a crash there never stalls or stops ingest and transcription, and their TLS,
password hashing and rendering do not compete with them for one interpreter lock. One server
for both, rather than one each, saves a gunicorn master and worker (about 40 MB PSS).
``salestag-gateway web`` and ``salestag-gateway badge-server`` still serve one face each.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path

from gateway.entry import module_command

log = logging.getLogger(__name__)

#: The child's name in the logs and the health snapshot, and the module it runs.
FACES = "web UI and upload API"
FACES_MODULE = "webui.faces"


def child_command(config_file: Path | None, module: str) -> list[str]:
    """The command line of ``python -m MODULE`` (a server of the web UI's package) with this
    service's config file; the core starts it without importing it."""
    return module_command(module, config_file)


def run_child(name: str, argv: list[str], stop: threading.Event, *,
              max_backoff_s: float = 60.0) -> None:
    """Keep ``argv`` running until ``stop``; then end it with SIGTERM (SIGKILL after 10 s)."""
    backoff = 2.0
    while not stop.is_set():
        child = subprocess.Popen(argv)  # noqa: S603 - our own interpreter and module
        while child.poll() is None and not stop.wait(0.5):
            pass
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        log.error("%s exited with status %s; restarting in %.0f s", name, child.returncode,
                  backoff)
        if stop.wait(backoff):
            return
        backoff = min(backoff * 2, max_backoff_s)
