"""The web app factory: the installer's and manager's UI, plus /healthz and /metrics."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from gateway.config import Config
from webui.context import WebContext
from webui.ui import install_ui


def create_app(config: Config, *, config_path: Path | None = None) -> Flask:
    """A Flask app for this gateway; serve it with ``webui.server`` (HTTPS), not Flask's."""
    app = Flask(__name__)
    install_ui(app, WebContext(config=config, config_path=config_path))
    return app
