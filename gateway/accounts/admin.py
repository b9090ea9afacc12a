"""Account recovery from the gateway's own console (``salestag-gateway user ...``)."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

from gateway.accounts.errors import AccountError
from gateway.accounts.users import Users
from gateway.config import Config
from gateway.store.audit import AuditLog
from gateway.store.db import open_db
from gateway.store.layout import Layout

ACTOR = "cli:root"


def read_new_password(password_file: str | None) -> str:
    """From a file (first line), else typed twice on the terminal without echo."""
    if password_file:
        return Path(password_file).read_text(encoding="utf-8").splitlines()[0]
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("repeat it: "):
        raise AccountError("the two passwords differ")
    return first


def reset_password(config: Config, username: str, *, password_file: str | None = None) -> None:
    """Set a new password, unlock the account and end its sessions; audited."""
    password = read_new_password(password_file)
    db = open_db(Layout(config.data_dir).db)
    try:
        user = Users(db).set_password(username, password)
        AuditLog(db).append(actor=ACTOR, action="user.password_reset",
                            object=f"user:{user.username}", at=time.time())
    finally:
        db.close()


def add_user(config: Config, username: str, role: str, *,
             password_file: str | None = None) -> None:
    """Create an account from the console; audited."""
    password = read_new_password(password_file)
    db = open_db(Layout(config.data_dir).db)
    try:
        user = Users(db).create(username, password, role)
        AuditLog(db).append(actor=ACTOR, action="user.create", object=f"user:{user.username}",
                            detail={"role": role}, at=time.time())
    finally:
        db.close()
