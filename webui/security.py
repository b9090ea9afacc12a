"""Sessions from cookies, CSRF on every form, role checks, login rate limits, safe headers."""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts.roles import Permission
from webui.context import allowed, current_session, current_user, sessions, users

SESSION_COOKIE = "__Host-salestag"
CSRF_COOKIE = "__Host-salestag-csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

F = TypeVar("F", bound=Callable[..., Any])

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key (sliding window, in memory)."""

    def __init__(self, limit: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record an attempt; False if the key is over its limit (the attempt is refused)."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] > self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > 10_000:
                self._events = {k: v for k, v in self._events.items() if v}
            return True


def csrf_token() -> str:
    """The token forms must echo: the session's, or a cookie-bound one before login."""
    session = current_session()
    if session is not None:
        return session.csrf
    if "anon_csrf" not in g:
        g.anon_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        g.set_anon_csrf = CSRF_COOKIE not in request.cookies
    return str(g.anon_csrf)


def _same_origin() -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


def _check_csrf() -> None:
    if request.method not in UNSAFE:
        return
    if not _same_origin():
        abort(403, description="This request came from another site and was refused.")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    session = current_session()
    expected = session.csrf if session else request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form had expired or was not sent by this site. "
                               "Reload the page and try again.")


def _load_session() -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    session = sessions().get(token) if token else None
    g.session = session
    g.user = users().get(session.user_id) if session and session.user_id else None
    if session and session.user_id and (g.user is None or g.user.disabled):
        g.session = g.user = None


def before_request(exempt_blueprints: frozenset[str]) -> Callable[[], None]:
    def hook() -> None:
        if request.blueprint in exempt_blueprints or request.endpoint in ("ops.healthz",
                                                                           "ops.metrics",
                                                                           "static"):
            return
        _load_session()
        _check_csrf()
    return hook


def set_session_cookie(response: Response, token: str, *, max_age: int | None = None) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, secure=True, httponly=True,
                        samesite="Strict", path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, secure=True, httponly=True, samesite="Strict",
                           path="/")


def after_request(response: Response) -> Response:
    if g.get("set_anon_csrf"):
        response.set_cookie(CSRF_COOKIE, str(g.anon_csrf), secure=True, httponly=True,
                            samesite="Strict", path="/")
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_user() is not None or request.endpoint not in (None, "static"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return cast(F, wrapper)


def require(permission: Permission) -> Callable[[F], F]:
    """Only signed-in people whose role holds ``permission``; others get 403 (or the login)."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user() is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not allowed(permission):
                abort(403)
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorate


def client_key() -> str:
    """Who is knocking, for rate limits (the gateway is reached directly, not via a proxy)."""
    return request.remote_addr or "unknown"


def install(app: Flask, *, exempt_blueprints: frozenset[str] = frozenset({"badge_api"})) -> None:
    app.before_request(before_request(exempt_blueprints))
    app.after_request(after_request)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["allowed"] = allowed
    app.jinja_env.globals["current_user"] = current_user
