"""What every request needs: the config, the data directory, a database connection per request,
and the signed-in person (if any)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from flask import Flask, current_app, g

from gateway.accounts.roles import Permission, can
from gateway.accounts.sessions import Session, Sessions
from gateway.accounts.setup_code import ISSUE_FILE, SetupCode
from gateway.accounts.users import LockoutPolicy, User, Users
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.local_settings import SettingsWatch, effective_config
from gateway.store.db import open_db
from gateway.store.layout import Layout

EXTENSION = "salestag"
_WATCH = "settings-watch"
log = logging.getLogger(__name__)


@dataclass
class WebContext:
    """The web UI's view of the gateway; one per app."""

    config: Config
    config_path: Path | None
    issue_file: Path | None = ISSUE_FILE
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> Layout:
        return Layout(self.config.data_dir)

    def refresh(self) -> None:
        """Take up settings changed elsewhere (the config file, the command line, another
        worker); a file that no longer parses leaves the current settings in place."""
        if self.extras[_WATCH].changed():
            try:
                self.config = effective_config(self.config_path)
            except GatewayError:
                log.exception("keeping the current settings")


def web() -> WebContext:
    ctx: WebContext = current_app.extensions[EXTENSION]
    return ctx


def db() -> sqlite_utils.Database:
    """This request's database connection (opened on first use, closed at teardown)."""
    if "db" not in g:
        g.db = open_db(web().layout.db)
    conn: sqlite_utils.Database = g.db
    return conn


def users() -> Users:
    cfg = web().config.web
    return Users(db(), policy=LockoutPolicy(max_failures=cfg.login_max_failures,
                                            lockout_s=cfg.lockout_minutes * 60.0))


def sessions() -> Sessions:
    return Sessions(db(), idle_s=web().config.web.session_idle_minutes * 60.0)


def setup_code() -> SetupCode:
    return SetupCode(db(), web().config.data_dir, web().issue_file)


def current_session() -> Session | None:
    session: Session | None = g.get("session")
    return session


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def allowed(permission: Permission | str) -> bool:
    user = current_user()
    return user is not None and can(user.role, Permission(permission))


def close_db(_exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def install(app: Flask, ctx: WebContext) -> None:
    app.extensions[EXTENSION] = ctx
    ctx.extras[_WATCH] = SettingsWatch(ctx.config_path, ctx.config.data_dir)
    app.before_request(ctx.refresh)
    app.teardown_appcontext(close_db)
