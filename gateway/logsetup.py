"""Logging to journald with structured fields under systemd, to stderr everywhere else.

systemd sets ``JOURNAL_STREAM`` (``DEVICE:INODE``) when a service's stderr is connected to the
journal; only then, and only when stderr still is that stream, do records go to journald through
systemd-python with fields an operator can filter on (``journalctl -u salestag-gateway
LOGGER=gateway.ingest.mqtt``, ``PRIORITY=3``, ``SALESTAG_CONVERSATION=...``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SYSLOG_IDENTIFIER = "salestag-gateway"
#: ``extra=`` keys that become journal fields, named SALESTAG_<KEY> (ids only, never content)
STRUCTURED_EXTRAS = ("conversation", "badge", "job", "session", "release")

Sender = Callable[..., None]


def journal_stream_active(environ: Mapping[str, str] | None = None,
                          stream: TextIO | None = None) -> bool:
    """True when ``JOURNAL_STREAM`` names the file that ``stream`` (stderr) is connected to."""
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    target = sys.stderr if stream is None else stream
    try:
        info = os.fstat(target.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


def _priority(levelno: int) -> int:
    """syslog priority for a logging level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def journal_fields(record: logging.LogRecord, message: str) -> dict[str, Any]:
    """The journal fields for one record (pure; MESSAGE is the formatted message)."""
    fields: dict[str, Any] = {
        "MESSAGE": message,
        "PRIORITY": str(_priority(record.levelno)),
        "SYSLOG_IDENTIFIER": SYSLOG_IDENTIFIER,
        "LOGGER": record.name,
        "CODE_FILE": record.pathname,
        "CODE_LINE": str(record.lineno),
        "CODE_FUNC": record.funcName,
        "THREAD_NAME": record.threadName or threading.current_thread().name,
    }
    for key in STRUCTURED_EXTRAS:
        value = getattr(record, key, None)
        if value is not None:
            fields[f"SALESTAG_{key.upper()}"] = str(value)
    return fields


class JournalHandler(logging.Handler):
    """Sends each record to journald with structured fields."""

    def __init__(self, send: Sender | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        if send is None:
            from systemd import journal

            send = journal.send
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            fields = journal_fields(record, message)
            self._send(fields.pop("MESSAGE"), **fields)
        except Exception:  # noqa: BLE001 - logging must never take the service down
            self.handleError(record)


def configure_logging(*, verbose: bool = False, environ: Mapping[str, str] | None = None
                      ) -> logging.Handler:
    """Install the root handler: journald under systemd (when available), else stderr."""
    handler: logging.Handler | None = None
    if journal_stream_active(environ):
        try:
            handler = JournalHandler()
        except ImportError:
            handler = None
        else:
            handler.setFormatter(logging.Formatter("%(message)s"))
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("pywhispercpp").setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handler
