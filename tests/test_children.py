"""The service's child processes: the web UI runs as ``python -m webui.server`` (the core never
imports the web UI), is restarted when it dies, and is ended when the service stops."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
from pathlib import Path

from conftest import free_port, wait_for

from gateway.children import child_command, run_child
from gateway.config import Config, render_toml
from gateway.service import initialize
from gateway.store.layout import Layout


def children_running(module: str) -> list[int]:
    """Processes of ours whose command line runs ``python -m MODULE``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"-m" in argv and module.encode() in argv:
            found.append(int(entry.name))
    return found


def answers_tls(port: int, cafile: Path) -> bool:
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                context.wrap_socket(raw, server_hostname="localhost"):
            return True
    except OSError:
        return False


def test_the_web_ui_child_is_restarted_when_it_dies_and_ended_on_stop(tmp_path: Path) -> None:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.web.bind = "127.0.0.1"
    config.web.port = free_port()
    initialize(config)
    config_file = tmp_path / "gateway.toml"
    config_file.write_text(render_toml(config))
    argv = child_command(config_file, "webui.server")
    assert argv[1:] == ["-m", "webui.server", "--config", str(config_file)]

    stop = threading.Event()
    thread = threading.Thread(target=run_child, args=("web UI", argv, stop), daemon=True)
    thread.start()
    try:
        ca = Layout(config.data_dir).ca_cert
        wait_for(lambda: answers_tls(config.web.port, ca), 60, "the web UI to answer")
        [first] = children_running("webui.server")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: children_running("webui.server") not in ([], [first]), 60,
                 "a new web UI process")
        wait_for(lambda: answers_tls(config.web.port, ca), 60, "the restarted web UI")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert children_running("webui.server") == []  # ended and reaped before run_child returned
