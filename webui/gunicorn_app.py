"""gunicorn serving one ready-made WSGI app with settings given in code (no config file)."""

from __future__ import annotations

from typing import Any
from wsgiref.types import WSGIApplication

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

#: The access log's line: no query strings, which may hold search words.
ACCESS_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

#: What every server of the gateway sets: the log above, timeouts, no proxy trusted for
#: X-Forwarded-* (none stands in front of the gateway), no control socket.
COMMON_OPTIONS: dict[str, Any] = {
    "accesslog": "-", "access_log_format": ACCESS_FORMAT, "errorlog": "-",
    "timeout": 60, "graceful_timeout": 10, "forwarded_allow_ips": "",
    "control_socket_disable": True,
}


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind for ``host`` and ``port`` (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``app`` with ``options`` (gunicorn setting names and values)."""

    def __init__(self, app: WSGIApplication, options: dict[str, Any]) -> None:
        self.app = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApplication:
        return self.app
