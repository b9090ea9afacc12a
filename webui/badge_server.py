"""Serving the badges' upload API over HTTPS with gunicorn, client certificates optional.

The server certificate is the one the badges' broker listener uses (issued by the gateway's
local CA, which every paired badge trusts); a badge may present its client certificate
(verified against that CA, then matched to the badge registry) or an upload token instead.
"""

from __future__ import annotations

import logging
import ssl
import sys
from collections.abc import Sequence
from typing import Any

from gateway.config import Config
from gateway.entry import config_file, program_parser, run_program
from gateway.local_settings import effective_config
from gateway.pki.certificates import ensure_server_certificate, load_ca, server_cert_paths
from gateway.store.layout import Layout
from webui.badge_api import create_badge_app
from webui.gunicorn_app import COMMON_OPTIONS, GunicornApp, bind_address

log = logging.getLogger(__name__)

#: Threads of each upload server process.
THREADS = 4
#: The longest request line a badge's request may have (gunicorn's default; a badge's are short).
LIMIT_REQUEST_LINE = 4094


def badge_tls_files(config: Config) -> tuple[str, str, str]:
    """The badges' server certificate and key, and the local CA that their client certificates
    are verified against."""
    cert, key = server_cert_paths(config)
    return cert, key, str(Layout(config.data_dir).ca_cert)


def server_options(config: Config) -> dict[str, Any]:
    """gunicorn settings: TLS with the badges' server certificate, client certs optional."""
    cert, key, ca = badge_tls_files(config)
    upload = config.upload
    return {
        **COMMON_OPTIONS,
        "bind": bind_address(upload.bind, upload.port),
        "workers": upload.workers,
        "worker_class": "gthread",
        "threads": THREADS,
        "certfile": cert,
        "keyfile": key,
        "ca_certs": ca,
        "cert_reqs": ssl.CERT_OPTIONAL,
        "limit_request_line": LIMIT_REQUEST_LINE,
    }


def serve_badges(config: Config) -> int:
    """Run the upload server until SIGTERM/SIGINT."""
    ensure_server_certificate(config, load_ca(config))
    options = server_options(config)
    log.info("badge upload API on https://%s/api/v1/badges", options["bind"])
    GunicornApp(create_badge_app(config), options).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m webui.badge_server``: what ``salestag-gateway badge-server`` and the
    service run."""
    args = program_parser("salestag-gateway badge-server",
                          "serve the badges' Wi-Fi upload API over HTTPS").parse_args(argv)
    path = config_file(args.config)
    return run_program(lambda: serve_badges(effective_config(path)), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
