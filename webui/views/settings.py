"""Settings (forms generated from the config schema) and the people who may sign in."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts.errors import AccountError, LoginFailed
from gateway.accounts.roles import ROLE_DESCRIPTIONS, ROLES, Permission
from gateway.local_settings import local_path, read_local
from webui import audit
from webui.context import current_user, users, web
from webui.forms import sections
from webui.notices import NOTICES
from webui.security import login_required, require
from webui.settings_apply import revert_section, save_settings

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _page(errors: dict[str, str] | None = None, section: str = "", status: int = 200,
          form: dict[str, str] | None = None) -> tuple[str, int]:
    ctx = web()
    local = frozenset(read_local(ctx.config.data_dir))
    return render_template("settings.html", sections=sections(ctx.config, local),
                           errors=errors or {}, failed_section=section, form=form or {},
                           config_path=ctx.config_path,
                           local_path=local_path(ctx.config.data_dir),
                           notice=NOTICES.get(request.args.get("notice", ""))), status


@bp.get("/")
@require(Permission.SETTINGS_MANAGE)
def index() -> tuple[str, int]:
    return _page()


@bp.post("/<section>")
@require(Permission.SETTINGS_MANAGE)
def save(section: str) -> tuple[str, int] | Response:
    known = {name for name, _, _ in sections(web().config)}
    if section not in known:
        abort(404)
    errors = save_settings(request.form, [section])
    if errors:
        return _page(errors, section, 400, dict(request.form))
    return redirect(url_for("settings.index", notice="saved") + f"#s-{section}")


@bp.post("/<section>/revert")
@require(Permission.SETTINGS_MANAGE)
def revert(section: str) -> Response:
    if section not in {name for name, _, _ in sections(web().config)}:
        abort(404)
    revert_section(section)
    return redirect(url_for("settings.index", notice="reverted") + f"#s-{section}")


@bp.get("/users")
@require(Permission.USERS_MANAGE)
def people() -> str:
    return render_template("users.html", users=users().all(), roles=ROLES,
                           role_descriptions=ROLE_DESCRIPTIONS, form={},
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/users")
@require(Permission.USERS_MANAGE)
def add_person() -> tuple[str, int] | Response:
    form = request.form
    try:
        user = users().create(form.get("username", ""), form.get("password", ""),
                              form.get("role", ""))
    except AccountError as exc:
        return render_template("users.html", users=users().all(), roles=ROLES,
                               role_descriptions=ROLE_DESCRIPTIONS, form=form,
                               error=str(exc).capitalize() + "."), 400
    audit.record("user.create", f"user:{user.username}", role=user.role)
    return redirect(url_for("settings.people", notice="user_added"))


@bp.post("/users/<int:user_id>/delete")
@require(Permission.USERS_MANAGE)
def remove_person(user_id: int) -> Response:
    me = current_user()
    target = users().get(user_id)
    if target is None:
        abort(404)
    if me is not None and target.id == me.id:
        abort(400, description="You cannot remove your own account.")
    users().delete(user_id)
    audit.record("user.delete", f"user:{target.username}")
    return redirect(url_for("settings.people", notice="user_removed"))


@bp.get("/password")
@login_required
def password() -> str:
    return render_template("password.html",
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/password")
@login_required
def password_post() -> tuple[str, int] | Response:
    me = current_user()
    assert me is not None  # noqa: S101 - login_required
    form = request.form
    try:
        users().authenticate(me.username, form.get("current", ""))
    except (LoginFailed, AccountError):
        return render_template("password.html", error="Your current password is wrong."), 400
    if form.get("password", "") != form.get("confirm", ""):
        return render_template("password.html", error="The two new passwords differ."), 400
    try:
        users().set_password(me.username, form.get("password", ""))
    except AccountError as exc:
        return render_template("password.html", error=str(exc).capitalize() + "."), 400
    audit.record("user.password_change", f"user:{me.username}")
    return redirect(url_for("auth.login", notice="password_changed"))
