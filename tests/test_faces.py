"""The web UI and the upload API from one server (``python -m webui.faces``, what the service
runs): a real gunicorn over real TLS on a real data directory. Each listener shows its own
certificate and serves its own app only; a badge's client certificate is verified on the
upload port; one master and one worker serve both."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from conftest import free_port, wait_for
from ingest_kit import Gateway, make_gateway

from gateway.config import ConfigError, parse_config
from gateway.ingest.badge_sim import TlsBundle
from gateway.pki.ca import LocalCA
from webui.faces import Admission, ByPort

pytestmark = pytest.mark.slow


def free_port_v6() -> int:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    gateway: Gateway
    badge: TlsBundle  # badge-1's pairing bundle
    pid: int  # the server's (gunicorn's master)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway whose web UI listens on 127.0.0.1 and upload API on ::1, served by one
    ``python -m webui.faces``; its broker runs (the upload API's uplink), one badge paired."""
    gw = make_gateway(tmp_path_factory.mktemp("faces"),
                      f'[web]\nbind = "127.0.0.1"\nport = {free_port()}\n'
                      f'[upload]\nbind = "::1"\nport = {free_port_v6()}\n')
    gw.start_broker()
    bundle = gw.pair("badge-1")
    log = gw.root / "faces.log"
    with log.open("ab") as sink:
        server = subprocess.Popen([sys.executable, "-m", "webui.faces", "--config",
                                   str(gw.config_path)], stdout=sink, stderr=sink,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: handshake(gw.config.web.port, "127.0.0.1") is not None, 60,
                 "the web UI's listener")
        wait_for(lambda: handshake(gw.config.upload.port, "::1") is not None, 60,
                 "the upload API's listener")
        yield Served(gw, bundle, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        gw.close()


def handshake(port: int, host: str, cert: tuple[Path, Path] | None = None) -> bytes | None:
    """The server certificate (DER) a TLS client sees on ``port``, None if none answers."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with socket.create_connection((host, port), timeout=5) as raw, \
                context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)
    except OSError:
        return None


def request(port: int, host: str, path: str, *, ca: Path, cert: TlsBundle | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False  # the chain is verified; which certificate: the test above
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=20)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def der_of(pem_file: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_file.read_text())


def test_each_listener_shows_its_own_certificate(faces: Served) -> None:
    gw = faces.gateway
    tls = gw.root / "data" / "tls"
    web = handshake(gw.config.web.port, "127.0.0.1")
    badges = handshake(gw.config.upload.port, "::1")
    assert web == der_of(gw.root / "data" / "web" / "server.crt")
    assert badges == der_of(tls / "badges.crt")
    assert web != badges


def test_a_badge_certificate_is_verified_on_the_upload_port(
        faces: Served, tmp_path: Path) -> None:
    gw, bundle = faces.gateway, faces.badge
    port, ca = gw.config.upload.port, bundle.ca
    path = "/api/v1/badges/badge-1/sessions/" + "ab" * 16
    status, body = request(port, "::1", path, ca=ca, cert=bundle)
    assert status == 200, body  # its certificate speaks for badge-1: the resume point
    assert json.loads(body) == {"seq": None}  # nothing received of that session yet
    assert request(port, "::1", path.replace("badge-1", "badge-2"), ca=ca,
                   cert=bundle)[0] == 403  # verified, and not badge-2's
    assert request(port, "::1", path, ca=ca)[0] == 401  # neither certificate nor token
    stranger = LocalCA.load_or_create(tmp_path / "ca.key", tmp_path / "ca.crt", "Stranger CA")
    issued = stranger.issue_client("badge-1", 1)
    (tmp_path / "c.crt").write_bytes(issued.cert_pem)
    (tmp_path / "c.key").write_bytes(issued.key_pem)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        request(port, "::1", path, ca=ca,
                cert=TlsBundle(ca, tmp_path / "c.crt", tmp_path / "c.key"))


def test_each_port_serves_its_own_app_only(faces: Served) -> None:
    gw, bundle = faces.gateway, faces.badge
    ca, web, upload = bundle.ca, gw.config.web.port, gw.config.upload.port
    badge_route = "/api/v1/badges/badge-1/sessions/" + "cd" * 16
    assert request(web, "127.0.0.1", "/login", ca=ca)[0] == 302  # to the first-run setup
    assert request(web, "127.0.0.1", "/healthz", ca=ca)[0] == 200
    assert request(upload, "::1", "/login", ca=ca, cert=bundle)[0] == 404
    assert request(upload, "::1", "/healthz", ca=ca, cert=bundle)[0] == 404
    assert request(web, "127.0.0.1", badge_route, ca=ca, cert=bundle)[0] == 404
    # the Host header names the other face's port: the connection's own port decides
    assert request(upload, "::1", "/login", ca=ca, cert=bundle,
                   headers={"Host": f"localhost:{web}"})[0] == 404
    assert request(web, "127.0.0.1", badge_route, ca=ca, cert=bundle,
                   headers={"Host": f"[::1]:{upload}"})[0] == 404
    # the upload port keeps the standalone upload server's request-line limit, the web UI its own
    long_route = "/api/v1/badges/badge-1/sessions/" + "e" * 5000
    assert request(upload, "::1", long_route, ca=ca, cert=bundle)[0] == 414
    assert request(web, "127.0.0.1", "/" + "e" * 5000, ca=ca)[0] == 404


def test_one_master_and_one_worker_serve_both_and_log_no_query_string(
        faces: Served) -> None:
    gw, bundle = faces.gateway, faces.badge
    request(gw.config.web.port, "127.0.0.1", "/login?q=quokka", ca=bundle.ca)
    log = gw.root / "faces.log"
    wait_for(lambda: '"GET /login" 302' in log.read_text(), 20, "the access log line")
    assert "quokka" not in log.read_text()
    workers = [int(p.name) for p in Path("/proc").iterdir()
               if p.name.isdigit() and parent_of(int(p.name)) == faces.pid]
    assert len(workers) == 1


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def test_the_web_ui_and_upload_api_on_one_port_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="web.port and upload.port are both 9443"):
        parse_config({"web": {"port": 9443}, "upload": {"port": 9443}})
    parse_config({"web": {"port": 9443}, "upload": {"port": 9443, "enabled": False}})
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                      "[web]\nport = 9443\n[upload]\nport = 9443\n")
    done = subprocess.run([sys.executable, "-m", "webui.faces", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "web.port and upload.port are both 9443" in done.stderr


def test_uploads_past_their_share_of_threads_are_told_to_retry() -> None:
    entered, release = threading.Semaphore(0), threading.Event()

    def slow_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        entered.release()
        release.wait(30)
        start_response("200 OK", [])
        return [b"ok"]

    gate = Admission(slow_app, slots=2, max_line=100)
    environ = {"REQUEST_METHOD": "PUT", "RAW_URI": "/x", "SERVER_PROTOCOL": "HTTP/1.1"}
    answers: list[str] = []

    def call() -> None:
        body = gate(environ, lambda status, headers, exc_info=None: answers.append(status))
        assert list(body)

    held = [threading.Thread(target=call) for _ in range(2)]
    for thread in held:
        thread.start()
    for _ in held:
        assert entered.acquire(timeout=30)
    headers: list[tuple[str, str]] = []
    busy = gate(environ, lambda status, hs, exc_info=None: headers.extend([("status", status),
                                                                           *hs]))
    assert ("status", "503 Service Unavailable") in headers and ("Retry-After", "1") in headers
    assert b"busy" in b"".join(busy)
    release.set()
    for thread in held:
        thread.join(30)
    assert answers == ["200 OK", "200 OK"]
    started = time.monotonic()
    assert list(gate(environ, lambda status, hs, exc_info=None: answers.append(status)))
    assert answers[-1] == "200 OK" and time.monotonic() - started < 30  # slots given back


def test_a_request_without_a_known_local_port_reaches_no_app() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        raise AssertionError("no app may answer")

    dispatch = ByPort({8443: app})
    statuses: list[str] = []
    for environ in ({}, {"gunicorn.socket": None, "SERVER_PORT": "8443"}):
        body = dispatch(environ, lambda status, hs, exc_info=None: statuses.append(status))
        assert b"nothing is served" in b"".join(body)
    assert statuses == ["404 Not Found"] * 2
