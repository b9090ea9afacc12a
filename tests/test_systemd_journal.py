"""Journald logging: the JOURNAL_STREAM check and the structured fields of each record.

No journald runs here (systemd-python's `journal.send` then silently does nothing), so the
handler is given a sender that keeps what it would have sent; the stream check uses a real file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gateway.credentials import credential_path
from gateway.logsetup import JournalHandler, configure_logging, journal_stream_active


def test_journal_stream_must_name_stderr_itself(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert journal_stream_active(env, stream)
        assert not journal_stream_active({"JOURNAL_STREAM": f"{info.st_dev}:1"}, stream)
        assert not journal_stream_active({"JOURNAL_STREAM": "garbage"}, stream)
        assert not journal_stream_active({}, stream)


def test_records_carry_priority_logger_code_and_ids() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    handler = JournalHandler(send=lambda message, **fields: sent.append((message, fields)))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("gateway.test.journal")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("conversation %s misses frames", "abc",
                       extra={"conversation": "abc", "badge": "b-7"})
        logger.error("broker down")
    finally:
        logger.removeHandler(handler)
    (message, fields), (_, error_fields) = sent
    assert message == "conversation abc misses frames"
    assert fields["PRIORITY"] == "4" and error_fields["PRIORITY"] == "3"
    assert fields["LOGGER"] == "gateway.test.journal"
    assert fields["SYSLOG_IDENTIFIER"] == "salestag-gateway"
    assert fields["CODE_FUNC"] == "test_records_carry_priority_logger_code_and_ids"
    assert fields["SALESTAG_CONVERSATION"] == "abc" and fields["SALESTAG_BADGE"] == "b-7"
    assert "SALESTAG_CONVERSATION" not in error_fields


def test_outside_systemd_logging_goes_to_stderr() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        handler = configure_logging(environ={})
        assert isinstance(handler, logging.StreamHandler)
        assert not isinstance(handler, JournalHandler)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_credentials_from_systemd_win_over_the_data_directory(tmp_path: Path) -> None:
    default = tmp_path / "keys" / "kek.key"
    creds = tmp_path / "creds"
    creds.mkdir()
    env = {"CREDENTIALS_DIRECTORY": str(creds)}
    assert credential_path("kek.key", default, env) == default  # not passed: the default
    (creds / "kek.key").write_bytes(b"k")
    assert credential_path("kek.key", default, env) == creds / "kek.key"
    assert credential_path("kek.key", default, {}) == default
