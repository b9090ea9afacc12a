"""Signing in and out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from gateway.accounts.errors import AccountLocked, LoginFailed
from webui import audit
from webui.context import current_user, sessions, setup_code, users
from webui.security import (
    SESSION_COOKIE,
    RateLimiter,
    clear_session_cookie,
    client_key,
    set_session_cookie,
)

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

# Per client address, on top of the per-account lockout.
LOGIN_LIMIT = RateLimiter(limit=20, window_s=300)


def _who(username: str) -> str:
    """The audit object for a login attempt; unknown names are not recorded (people sometimes
    type a password into the user name field)."""
    user = users().find(username) if username.strip() else None
    return f"user:{user.username}" if user is not None else "user:unknown"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


@bp.get("/login")
def login() -> str | Response:
    if setup_code().needed():
        return redirect(url_for("setup.start"))
    if current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> tuple[str, int] | Response:
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:512]
    limiter: RateLimiter = current_app.extensions.get("salestag_login_limit", LOGIN_LIMIT)
    if not limiter.hit(client_key()):
        audit.record("auth.login_throttled", _who(username), actor="anonymous")
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Too many attempts from this device. Wait a few minutes."
                               ), 429
    try:
        user = users().authenticate(username, password)
    except AccountLocked as exc:
        until = datetime.fromtimestamp(exc.until, UTC).strftime("%H:%M UTC")
        audit.record("auth.login_locked", _who(username), actor="anonymous")
        return render_template("login.html", next=request.form.get("next", ""),
                               error=f"This account is locked after too many failed attempts "
                                     f"until {until}. An installer can reset the password."), 403
    except LoginFailed:
        audit.record("auth.login_failed", _who(username), actor="anonymous")
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Wrong user name or password."), 401
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        sessions().end(old)
    token, _ = sessions().start(user.id)
    audit.record("auth.login", f"user:{user.username}", actor=user.username)
    response = redirect(_safe_next(request.form.get("next")))
    set_session_cookie(response, token)
    return response


@bp.post("/logout")
def logout() -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    user = current_user()
    if token:
        sessions().end(token)
    if user is not None:
        audit.record("auth.logout", f"user:{user.username}", actor=user.username)
    response = redirect(url_for("auth.login", notice="signed_out"))
    clear_session_cookie(response)
    return response
