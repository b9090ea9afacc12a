"""gunicorn serving one ready-made Flask app with settings given in code (no config file)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``app`` with ``options`` (gunicorn setting names and values)."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.app = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app
