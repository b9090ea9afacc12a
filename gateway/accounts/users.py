"""The account store: users with one role each, failed-login lockout, password resets."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.accounts.errors import AccountError, AccountLocked, LoginFailed
from gateway.accounts.passwords import (
    DUMMY_HASH,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from gateway.accounts.roles import ROLES

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: str
    created_at: float
    last_login_at: float | None
    failed_logins: int
    locked_until: float | None
    disabled: bool

    def locked(self, now: float) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many failures in a row lock an account, and for how long."""

    max_failures: int = 5
    lockout_s: float = 15 * 60


_SELECT = ("SELECT id, username, role, created_at, last_login_at, failed_logins, locked_until, "
           "disabled FROM users ")


def _user(row: tuple[Any, ...]) -> User:
    return User(int(row[0]), str(row[1]), str(row[2]), float(row[3]), row[4], int(row[5]),
                row[6], bool(row[7]))


class Users:
    """Repository of web UI accounts. Password hashes never leave this class."""

    def __init__(self, db: sqlite_utils.Database, *, policy: LockoutPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.policy = policy or LockoutPolicy()
        self.clock = clock

    def _select(self, tail: str, params: list[object]) -> sqlite3.Cursor:
        return self.db.execute(_SELECT + tail, params)  # noqa: S608 - fixed text, bound values

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM users").fetchone()[0])

    def all(self) -> list[User]:
        return [_user(r) for r in self._select("ORDER BY username", []).fetchall()]

    def get(self, user_id: int) -> User | None:
        row = self._select("WHERE id = ?", [user_id]).fetchone()
        return _user(row) if row else None

    def find(self, username: str) -> User | None:
        row = self._select("WHERE username = ?", [username.strip().lower()]).fetchone()
        return _user(row) if row else None

    def create(self, username: str, password: str, role: str) -> User:
        """Add an account; raises AccountError or WeakPassword with a message for the user."""
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError("user names are 2-32 lower-case letters, digits, '.', '_' or '-', "
                               "starting with a letter")
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}")
        check_policy(password, username=username)
        if self.find(username):
            raise AccountError(f"a user named {username} already exists")
        now = self.clock()
        self.db.execute(
            "INSERT INTO users (username, role, password_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)", [username, role, hash_password(password), now, now])
        user = self.find(username)
        assert user is not None  # noqa: S101 - just inserted
        return user

    def authenticate(self, username: str, password: str) -> User:
        """Check a login; counts failures and locks the account after too many in a row."""
        now = self.clock()
        user = self.find(username)
        if user is None or user.disabled:
            verify_password(DUMMY_HASH, password)
            raise LoginFailed("wrong user name or password")
        if user.locked(now):
            raise AccountLocked(float(user.locked_until or now))
        stored = str(self.db.execute("SELECT password_hash FROM users WHERE id = ?",
                                     [user.id]).fetchone()[0])
        if not verify_password(stored, password):
            failures = user.failed_logins + 1
            locked_until = now + self.policy.lockout_s \
                if failures >= self.policy.max_failures else None
            self.db.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                            [0 if locked_until else failures, locked_until, user.id])
            if locked_until:
                raise AccountLocked(locked_until)
            raise LoginFailed("wrong user name or password")
        updates = "failed_logins = 0, locked_until = NULL, last_login_at = ?"
        params: list[object] = [now]
        if needs_rehash(stored):
            updates += ", password_hash = ?"
            params.append(hash_password(password))
        self.db.execute(f"UPDATE users SET {updates} WHERE id = ?",  # noqa: S608 - fixed text
                        [*params, user.id])
        return self.get(user.id) or user

    def set_password(self, username: str, password: str) -> User:
        """Replace a password, unlock the account and end its sessions."""
        user = self.find(username)
        if user is None:
            raise AccountError(f"no user named {username}")
        check_policy(password, username=user.username)
        self.db.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, "
            "updated_at = ? WHERE id = ?", [hash_password(password), self.clock(), user.id])
        self.db.execute("DELETE FROM web_sessions WHERE user_id = ?", [user.id])
        return self.get(user.id) or user

    def delete(self, user_id: int) -> None:
        self.db.execute("DELETE FROM web_sessions WHERE user_id = ?", [user_id])
        self.db.execute("DELETE FROM users WHERE id = ?", [user_id])
