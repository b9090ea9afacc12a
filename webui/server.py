"""Serving the web UI over HTTPS with gunicorn (one worker process, a few threads).

One worker keeps memory low on a Pi and keeps the in-memory parts (login rate limits, the
search index) in one place; threads serve a handful of people at once. The access log leaves
out query strings, which may hold search words.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.accounts.setup_code import SetupCode
from gateway.config import Config
from gateway.entry import config_file, program_parser, run_program
from gateway.local_settings import effective_config
from gateway.pki.ca import fingerprint, load_certificate
from gateway.pki.webcert import ensure_web_cert, host_names
from gateway.store.db import open_db
from gateway.store.layout import Layout
from webui.gunicorn_app import COMMON_OPTIONS, GunicornApp, bind_address

log = logging.getLogger(__name__)

#: The web UI's threads: a handful of people at once.
THREADS = 4
#: gunicorn settings of the web UI's listener (also those of the server both faces share).
WEB_OPTIONS = {"keepalive": 5, "limit_request_line": 8190}


def urls(config: Config) -> list[str]:
    """Where a browser reaches the web UI."""
    port = "" if config.web.port == 443 else f":{config.web.port}"
    if config.web.bind in ("0.0.0.0", "::"):  # noqa: S104 - describing the bind, not binding
        return [f"https://{name}{port}/" for name in host_names()[1:] or ["localhost"]]
    host = f"[{config.web.bind}]" if ":" in config.web.bind else config.web.bind
    return [f"https://{host}{port}/"]


def announce(config: Config, out: Any = None, *, renew_code: bool = False) -> str | None:
    """Print the web UI's address and, while no account exists, a new one-time setup code."""
    out = out or sys.stdout
    db = open_db(Layout(config.data_dir).db)
    try:
        setup = SetupCode(db, config.data_dir)
        code = setup.issue(renew=renew_code)
        waiting = setup.needed()
    finally:
        db.close()
    sha256 = fingerprint(load_certificate(ensure_web_cert(config).cert))
    print(f"web UI: {' '.join(urls(config))} (certificate SHA-256 {sha256})", file=out,
          flush=True)
    if code:
        print(f"web UI setup code: {code}  (open the web UI and type it to create the first "
              "account; it works once)", file=out, flush=True)
    elif waiting:
        print("web UI setup: use the setup code shown when this gateway was first set up, or "
              "make a new one with `salestag-gateway web --new-setup-code`", file=out, flush=True)
    return code


def serve(config: Config, config_path: Path | None, *, threads: int = THREADS,
          renew_code: bool = False) -> int:
    """Run the web UI until SIGTERM/SIGINT."""
    from webui.app import create_app

    announce(config, renew_code=renew_code)
    cert = ensure_web_cert(config)
    app = create_app(config, config_path=config_path)
    options = {
        **COMMON_OPTIONS, **WEB_OPTIONS,
        "bind": bind_address(config.web.bind, config.web.port),
        "workers": 1, "worker_class": "gthread", "threads": threads,
        "certfile": str(cert.cert), "keyfile": str(cert.key), "proc_name": "salestag-web",
    }
    GunicornApp(app, options).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m webui.server``: what ``salestag-gateway web`` and the service run."""
    parser = program_parser("salestag-gateway web", "serve the web UI over HTTPS")
    parser.add_argument("--new-setup-code", action="store_true",
                        help="replace the one-time setup code with a new one")
    args = parser.parse_args(argv)
    path = config_file(args.config)
    return run_program(lambda: serve(effective_config(path), path,
                                     renew_code=args.new_setup_code), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
