"""The web UI and the badges' upload API from one gunicorn: what ``salestag-gateway run`` starts.

One master and one worker serve both faces (about 40 MB PSS less than a master and a worker
each), yet each face keeps its own listener, certificate and app:

- a connection is wrapped with the TLS context of the listener it arrived on: the web UI's
  certificate without client certificates, or the badges' server certificate with client
  certificates (optional) verified against the gateway's local CA;
- a request goes to the app of the local port it arrived on (the connection's own address,
  which neither a Host header nor a proxy header can change), so a badge never reaches a web UI
  route nor a browser a badge route;
- the upload API has its own share of the worker's threads: past it a badge is told 503 with
  Retry-After (and resends, as when the gateway is busy), so uploads never take the threads the
  web UI needs; its request lines stay within the standalone upload server's limit.

``salestag-gateway web`` and ``salestag-gateway badge-server`` still run one face each.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.config import Config
from gateway.entry import config_file, program_parser, run_program
from gateway.local_settings import effective_config
from gateway.pki.certificates import ensure_server_certificate, load_ca
from gateway.pki.webcert import ensure_web_cert
from webui.badge_server import LIMIT_REQUEST_LINE, badge_tls_files
from webui.badge_server import THREADS as BADGE_THREADS
from webui.gunicorn_app import COMMON_OPTIONS, GunicornApp, bind_address
from webui.server import THREADS as WEB_THREADS
from webui.server import WEB_OPTIONS, announce

log = logging.getLogger(__name__)

TlsFactory = Callable[[], ssl.SSLContext]


@dataclass(frozen=True)
class Face:
    """One face: where it listens, its certificate (and the CA its clients' certificates are
    verified against, if it asks for them) and its app."""

    name: str
    host: str
    port: int
    cert: str
    key: str
    client_ca: str | None
    app: WSGIApplication

    def tls_context(self) -> ssl.SSLContext:
        """A server-side TLS context with this face's certificate; with ``client_ca``, a
        client certificate is asked for (not required) and verified against it. Made for each
        connection, as gunicorn does, so a renewed certificate is served without a restart."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.client_ca)
        context.load_cert_chain(certfile=self.cert, keyfile=self.key)
        context.verify_mode = ssl.CERT_OPTIONAL if self.client_ca else ssl.CERT_NONE
        return context


def local_port(sock: Any) -> int | None:
    """The local port of a connection (IPv4 or IPv6, plain or TLS), None if it has none."""
    try:
        return int(sock.getsockname()[1])
    except (AttributeError, OSError, IndexError, TypeError, ValueError):
        return None


class TlsByPort:
    """What gunicorn's ``ssl_context`` hook returns: wraps each accepted connection with the
    TLS context of the listener (port) it arrived on."""

    def __init__(self, contexts: dict[int, TlsFactory]) -> None:
        self.contexts = contexts

    def wrap_socket(self, sock: socket.socket, **options: Any) -> ssl.SSLSocket:
        make = self.contexts.get(local_port(sock) or 0)
        if make is None:
            raise ssl.SSLError(f"no TLS settings for a connection on {sock.getsockname()}")
        return make().wrap_socket(sock, **options)


def _answer(start_response: StartResponse, status: str, message: str,
            *headers: tuple[str, str]) -> list[bytes]:
    body = json.dumps({"error": message}).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


class ByPort:
    """A WSGI app handing each request to the app of the local port it arrived on."""

    def __init__(self, apps: dict[int, WSGIApplication]) -> None:
        self.apps = apps

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        app = self.apps.get(local_port(environ.get("gunicorn.socket")) or 0)
        if app is None:
            return _answer(start_response, "404 Not Found", "nothing is served on this port")
        return app(environ, start_response)


class Admission:
    """The upload API's share of the worker: at most ``slots`` requests at once, and request
    lines of at most ``max_line`` characters."""

    def __init__(self, app: WSGIApplication, slots: int, max_line: int) -> None:
        self.app = app
        self.max_line = max_line
        self._slots = threading.BoundedSemaphore(slots)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        line = " ".join((environ.get("REQUEST_METHOD", ""), environ.get("RAW_URI", ""),
                         environ.get("SERVER_PROTOCOL", "")))
        if len(line) > self.max_line:
            return _answer(start_response, "414 URI Too Long", "the request line is too long")
        if not self._slots.acquire(blocking=False):
            return _answer(start_response, "503 Service Unavailable",
                           "the upload server is busy: resend in a second",
                           ("Retry-After", "1"))
        try:  # the badge API answers with one buffered body: done once read
            answer = self.app(environ, start_response)
            try:
                return list(answer)
            finally:
                getattr(answer, "close", lambda: None)()
        finally:
            self._slots.release()


def web_face(config: Config, config_path: Path | None) -> Face:
    """The web UI: its certificate, no client certificates."""
    from webui.app import create_app

    cert = ensure_web_cert(config)
    return Face("web UI", config.web.bind, config.web.port, str(cert.cert), str(cert.key), None,
                create_app(config, config_path=config_path))


def badge_face(config: Config) -> Face:
    """The badges' upload API: the badges' server certificate, client certificates from the
    local CA, its own share of threads."""
    from webui.badge_api import create_badge_app

    ensure_server_certificate(config, load_ca(config))
    cert, key, ca = badge_tls_files(config)
    app = Admission(create_badge_app(config), upload_threads(config), LIMIT_REQUEST_LINE)
    return Face("upload API", config.upload.bind, config.upload.port, cert, key, ca, app)


def upload_threads(config: Config) -> int:
    """The upload API's threads: as many as its standalone server's processes would have."""
    return BADGE_THREADS * config.upload.workers


def faces_of(config: Config, config_path: Path | None) -> list[Face]:
    """The enabled faces (never on one port: parsing the config refuses that)."""
    return [*([web_face(config, config_path)] if config.web.enabled else []),
            *([badge_face(config)] if config.upload.enabled else [])]


def server_options(config: Config, faces: Sequence[Face]) -> dict[str, Any]:
    """gunicorn settings for one master and one worker serving ``faces``."""
    contexts = {face.port: face.tls_context for face in faces}
    threads = (WEB_THREADS if config.web.enabled else 0) + (
        upload_threads(config) if config.upload.enabled else 0)
    return {
        **COMMON_OPTIONS, **WEB_OPTIONS,
        "bind": [bind_address(face.host, face.port) for face in faces],
        "workers": 1, "worker_class": "gthread", "threads": threads,
        # gunicorn serves TLS only with a certificate set; the hook picks each listener's own
        "certfile": faces[0].cert, "keyfile": faces[0].key,
        "ssl_context": lambda _config, _default: TlsByPort(contexts),
        "proc_name": "salestag-faces",
    }


def serve_faces(config: Config, config_path: Path | None) -> int:
    """Run the enabled faces until SIGTERM/SIGINT (0 at once when none is)."""
    faces = faces_of(config, config_path)
    if not faces:
        log.info("neither the web UI nor the upload API is enabled")
        return 0
    if config.web.enabled:
        announce(config)
    for face in faces:
        log.info("%s on https://%s", face.name, bind_address(face.host, face.port))
    app = ByPort({face.port: face.app for face in faces})
    GunicornApp(app, server_options(config, faces)).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m webui.faces``: what the service runs for its web UI and upload API."""
    args = program_parser("python -m webui.faces",
                          "serve the web UI and the badges' upload API over HTTPS, "
                          "from one server").parse_args(argv)
    path = config_file(args.config)
    return run_program(lambda: serve_faces(effective_config(path), path), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
