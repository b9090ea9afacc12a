"""The service's child process: the web UI and the upload API run as ``python -m webui.faces``
(the core never imports the web UI), restarted when it dies, and ended when the service stops."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
from pathlib import Path

from conftest import free_port, wait_for

from gateway.children import FACES, FACES_MODULE, child_command, run_child
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


def test_the_faces_child_is_restarted_when_it_dies_and_ended_on_stop(tmp_path: Path) -> None:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.web.bind = config.upload.bind = "127.0.0.1"
    config.web.port, config.upload.port = free_port(), free_port()
    initialize(config)
    config_file = tmp_path / "gateway.toml"
    config_file.write_text(render_toml(config))
    argv = child_command(config_file, FACES_MODULE)
    assert argv[1:] == ["-m", "webui.faces", "--config", str(config_file)]

    stop = threading.Event()
    thread = threading.Thread(target=run_child, args=(FACES, argv, stop), daemon=True)
    thread.start()
    try:
        ca = Layout(config.data_dir).ca_cert
        for port in (config.web.port, config.upload.port):
            wait_for(lambda port=port: answers_tls(port, ca), 60, "the faces to answer")
        [first] = children_running(FACES_MODULE)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: children_running(FACES_MODULE) not in ([], [first]), 60,
                 "a new faces process")
        for port in (config.web.port, config.upload.port):
            wait_for(lambda port=port: answers_tls(port, ca), 60, "the restarted faces")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert children_running(FACES_MODULE) == []  # ended and reaped before run_child returned
