"""systemd notifications (READY, STATUS, WATCHDOG) through systemd-python, when run by systemd."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Half of systemd's watchdog timeout, or None when no watchdog is configured for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """Sends sd_notify messages; does nothing outside systemd (no NOTIFY_SOCKET)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notify = None
        if self.enabled:
            try:
                from systemd import daemon
            except ImportError:
                log.warning("NOTIFY_SOCKET is set but systemd-python is not installed")
                self.enabled = False
            else:
                self._notify = daemon.notify

    def send(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def reloading(self, status: str) -> None:
        """Tell systemd the service is applying new settings; ``ready`` follows when done."""
        self.send(f"RELOADING=1\nSTATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
