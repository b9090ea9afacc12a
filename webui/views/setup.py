"""The first-run wizard: setup code, first account, site, consent, retention, HQ, model, badge."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts.errors import AccountError, SetupCodeInvalid
from gateway.accounts.roles import INSTALLER, Permission
from gateway.accounts.wizard import mark_setup_completed, setup_completed
from gateway.config import iter_fields
from gateway.crypto.errors import KeyFileError
from gateway.crypto.identity import load_tenant_public_key
from gateway.crypto.keyfiles import write_file_atomically
from webui import audit
from webui.context import (
    allowed,
    current_session,
    current_user,
    db,
    sessions,
    setup_code,
    users,
    web,
)
from webui.forms import fields
from webui.security import (
    SESSION_COOKIE,
    RateLimiter,
    client_key,
    require,
    set_session_cookie,
)
from webui.settings_apply import save_settings

bp = Blueprint("setup", __name__, url_prefix="/setup")
CODE_LIMIT = RateLimiter(limit=10, window_s=300)


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    intro: str
    settings: tuple[str, ...]


def _consent_settings() -> tuple[str, ...]:
    """Consent and jurisdiction settings, wherever the privacy settings declare them."""
    words = ("jurisdiction", "consent", "disclosure", "policy")
    return tuple(name for name, _ in iter_fields()
                 if name.split(".")[0] in ("privacy", "consent")
                 and any(w in name.split(".")[1] for w in words))


def steps() -> list[Step]:
    all_steps = [
        Step("site", "Site", "Name this gateway and the site it serves. Badges use the site "
             "id in their topics, so set it before pairing badges.",
             ("site.name", "site.id", "site.gateway_id")),
        Step("consent", "Consent", "Choose the recording-consent rules of this site's "
             "jurisdiction. When in doubt, choose the stricter (all-party) rule.",
             _consent_settings()),
        Step("retention", "Retention", "Decide how long data stays on this box. Shorter is "
             "safer: raw audio is deleted as soon as it is transcribed by default.",
             tuple(name for name, _ in iter_fields() if name.startswith("retention."))),
        Step("upstream", "HQ sync", "Where sealed metadata (never audio or transcripts) is "
             "sent, and HQ's public key that seals it.",
             ("upstream.enabled", "upstream.host", "upstream.port", "upstream.tls",
              "upstream.ca_file")),
        Step("model", "Speech model", "The speech model runs on this box. The quantized "
             "model is faster on a Raspberry Pi with nearly the same accuracy.",
             ("speech.model", "speech.quant", "speech.threads")),
        Step("badge", "Test a badge", "Pair a badge and speak a few words, or stream a test "
             "file with the badge simulator. It appears here when it connects.", ()),
    ]
    return [s for s in all_steps if s.settings or s.slug == "badge"]


def setup_done() -> bool:
    return setup_completed(db())


def _step(slug: str) -> tuple[int, Step]:
    for i, step in enumerate(steps()):
        if step.slug == slug:
            return i, step
    abort(404)


@bp.get("/")
def start() -> str | Response:
    if not setup_code().needed():
        if current_user() is not None and not setup_done() and allowed(Permission.SETTINGS_MANAGE):
            return redirect(url_for("setup.step", slug=steps()[0].slug))
        return redirect(url_for("auth.login"))
    session = current_session()
    if session is not None and session.setup:
        return redirect(url_for("setup.account"))
    return render_template("setup/code.html")


@bp.post("/")
def redeem() -> tuple[str, int] | Response:
    if not CODE_LIMIT.hit(client_key()):
        return render_template("setup/code.html",
                               error="Too many attempts. Wait a few minutes."), 429
    try:
        setup_code().check(request.form.get("code", "")[:64])
    except SetupCodeInvalid:
        audit.record("setup.code_rejected", "setup", actor="anonymous")
        return render_template("setup/code.html", error="That setup code is not valid. Use "
                               "the newest code printed on the gateway's console."), 403
    token, _ = sessions().start(None, setup=True)
    response = redirect(url_for("setup.account"))
    set_session_cookie(response, token)
    return response


def _setup_session_or_403() -> None:
    session = current_session()
    if session is None or not session.setup or not setup_code().needed():
        abort(403)


@bp.get("/account")
def account() -> str:
    _setup_session_or_403()
    return render_template("setup/account.html", steps=steps(), index=-1, form={})


@bp.post("/account")
def account_post() -> tuple[str, int] | Response:
    _setup_session_or_403()
    form = request.form
    if form.get("password", "") != form.get("confirm", ""):
        return render_template("setup/account.html", steps=steps(), index=-1, form=form,
                               error="The two passwords differ."), 400
    try:
        user = users().create(form.get("username", ""), form.get("password", ""), INSTALLER)
    except AccountError as exc:
        return render_template("setup/account.html", steps=steps(), index=-1, form=form,
                               error=str(exc).capitalize() + "."), 400
    setup_code().consume()
    sessions().end(request.cookies.get(SESSION_COOKIE, ""))
    token, _ = sessions().start(user.id)
    audit.record("setup.admin_created", f"user:{user.username}", actor=user.username)
    response = redirect(url_for("setup.step", slug=steps()[0].slug))
    set_session_cookie(response, token)
    return response


@bp.get("/<slug>")
@require(Permission.SETTINGS_MANAGE)
def step(slug: str) -> str:
    index, current = _step(slug)
    return render_template("setup/step.html", steps=steps(), index=index, step=current,
                           fields=fields(web().config, current.settings), errors={},
                           has_key=_tenant_key_present())


@bp.post("/<slug>")
@require(Permission.SETTINGS_MANAGE)
def step_post(slug: str) -> tuple[str, int] | Response:
    index, current = _step(slug)
    errors = save_settings(request.form, current.settings) if current.settings else {}
    if not errors and slug == "upstream":
        errors = _save_tenant_key(request.form.get("hq_public_key", ""))
    if errors:
        return render_template("setup/step.html", steps=steps(), index=index, step=current,
                               fields=fields(web().config, current.settings), errors=errors,
                               form=request.form, has_key=_tenant_key_present()), 400
    following = steps()[index + 1:]
    if following:
        return redirect(url_for("setup.step", slug=following[0].slug))
    mark_setup_completed(db())
    audit.record("setup.completed", "setup")
    return redirect(url_for("dashboard.index", notice="setup_done"))


def _tenant_key_present() -> bool:
    config = web().config
    return config.data_path(config.upstream.tenant_public_key).exists()


def _save_tenant_key(text: str) -> dict[str, str]:
    text = text.strip()
    if not text:
        if web().config.upstream.enabled and not _tenant_key_present():
            return {"hq_public_key": "paste HQ's public key to enable sync"}
        return {}
    config = web().config
    path = config.data_path(config.upstream.tenant_public_key)
    data = (text + "\n").encode()
    staged = path.with_name(path.name + ".new")
    write_file_atomically(staged, data, 0o644, replace=True)
    try:
        load_tenant_public_key(staged)
    except KeyFileError:
        staged.unlink(missing_ok=True)
        return {"hq_public_key": "this is not an X25519 public key in PEM form"}
    staged.replace(path)
    audit.record("config.tenant_key", f"file:{path.name}")
    return {}
