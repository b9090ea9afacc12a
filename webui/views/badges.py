"""Badges: pair (QR code and a bundle that downloads once), revoke, health counters."""

from __future__ import annotations

import io
import secrets
import shutil
import threading
import zipfile
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from gateway.accounts.roles import Permission
from gateway.errors import GatewayError
from gateway.ingest.health import badge_health
from gateway.pki.pairing import pair_badge, revoke_badge
from gateway.pki.registry import BadgeRegistry
from webui import audit
from webui.context import db, web
from webui.notices import NOTICES
from webui.security import require

bp = Blueprint("badges", __name__, url_prefix="/badges")
_LOCK = threading.Lock()
_PAIRINGS = "pairings"  # token -> bundle directory, until its one download


def _pairings() -> dict[str, Path]:
    pairings: dict[str, Path] = web().extras.setdefault(_PAIRINGS, {})
    return pairings


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    health = {h.badge_id: h for h in badge_health(db())}
    return render_template("badges.html", badges=BadgeRegistry(db()).all(), health=health,
                           error=error, notice=NOTICES.get(request.args.get("notice", ""))
                           ), status


@bp.get("/")
@require(Permission.BADGES_VIEW)
def index() -> tuple[str, int]:
    return _page()


@bp.post("/pair")
@require(Permission.BADGES_MANAGE)
def pair() -> tuple[str, int] | Response:
    name = request.form.get("badge_id", "").strip()[:64]
    token = secrets.token_urlsafe(24)
    out_dir = web().layout.run / "pairing" / token
    try:
        bundle = pair_badge(web().config, db(), name, out_dir)
    except GatewayError as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _page(f"Not paired: {exc}", 400)
    with _LOCK:
        _pairings()[token] = bundle.directory
    audit.record("badge.pair", f"badge:{name}")
    return redirect(url_for("badges.paired", token=token))


def _bundle_dir(token: str) -> Path:
    with _LOCK:
        directory = _pairings().get(token)
    if directory is None or not directory.is_dir():
        abort(410, description="This bundle was already downloaded (or the web UI restarted). "
                               "Revoke the badge and pair it again for a new one.")
    return directory


@bp.get("/paired/<token>")
@require(Permission.BADGES_MANAGE)
def paired(token: str) -> str:
    directory = _bundle_dir(token)
    return render_template("badge_paired.html", token=token, badge_id=directory.name)


@bp.get("/paired/<token>/qr.png")
@require(Permission.BADGES_MANAGE)
def qr(token: str) -> Response:
    return send_file(_bundle_dir(token) / "enrolment.png", mimetype="image/png", max_age=0)


@bp.post("/paired/<token>/bundle")
@require(Permission.BADGES_MANAGE)
def bundle(token: str) -> Response:
    """The badge's key, certificate, CA and enrolment data as a zip; then gone from disk."""
    with _LOCK:
        directory = _pairings().pop(token, None)
    if directory is None or not directory.is_dir():
        abort(410, description="This bundle was already downloaded.")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(directory.iterdir()):
            archive.write(item, f"{directory.name}/{item.name}")
    shutil.rmtree(directory.parent, ignore_errors=True)
    audit.record("badge.bundle_download", f"badge:{directory.name}")
    data.seek(0)
    return send_file(data, mimetype="application/zip", as_attachment=True,
                     download_name=f"{directory.name}-bundle.zip", max_age=0)


@bp.post("/<badge_id>/revoke")
@require(Permission.BADGES_MANAGE)
def revoke(badge_id: str) -> tuple[str, int] | Response:
    if request.form.get("confirm") != badge_id:
        return _page(f"Type the badge id {badge_id} to confirm revoking it.", 400)
    try:
        revoke_badge(web().config, db(), badge_id)
    except GatewayError as exc:
        return _page(f"Not revoked: {exc}", 400)
    audit.record("badge.revoke", f"badge:{badge_id}")
    return redirect(url_for("badges.index", notice="badge_revoked"))
