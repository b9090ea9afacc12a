"""The installer's and manager's web UI, added to a Flask app: blueprints, security, templates."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from webui import context, security
from webui.context import WebContext
from webui.views import (
    audit,
    auth,
    badges,
    conversations,
    dashboard,
    ops,
    privacy,
    settings,
    setup,
    trackers,
)

BLUEPRINTS = (auth.bp, setup.bp, dashboard.bp, ops.bp, settings.bp, conversations.bp,
              privacy.bp, audit.bp, badges.bp, trackers.bp)


def _when(value: float | None) -> str:
    if value is None:
        return "never"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _size(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _error_page(exc: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=exc), exc.code or 500


def install_ui(app: Flask, ctx: WebContext) -> None:
    """Register every area of the web UI on ``app`` (works on any Flask app)."""
    context.install(app, ctx)
    security.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    extra: dict[str, Any] = {"when": _when, "ago": _ago, "size": _size}
    app.jinja_env.filters.update(extra)
    app.jinja_env.globals["now"] = time.time
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["site_name"] = lambda: ctx.config.site.name or ctx.config.site.id
    app.register_error_handler(HTTPException, _error_page)
