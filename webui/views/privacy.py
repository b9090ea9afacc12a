"""Data-subject requests (find, export, delete with confirmation) and the consent ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gateway.accounts.roles import Permission
from gateway.errors import GatewayError
from gateway.store.errors import NotFound
from webui.access import actor, layer, search_index
from webui.notices import NOTICES
from webui.security import require

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
FIELDS = ("phone", "email", "customer_ref", "conversation_id")


def _subject() -> dict[str, str | None]:
    return {k: (request.values.get(k, "").strip()[:200] or None) for k in FIELDS}


@bp.get("/")
@require(Permission.PRIVACY_REQUESTS)
def index() -> str:
    return render_template("privacy.html", subject={}, result=None,
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.post("/find")
@require(Permission.PRIVACY_REQUESTS)
def find() -> tuple[str, int]:
    subject = _subject()
    if not any(subject.values()):
        return render_template("privacy.html", subject=subject, result=None,
                               error="Enter a phone number, an e-mail address, a customer "
                                     "reference or a conversation id."), 400
    try:
        result = layer().find_subject(actor(), **subject)
    except NotFound as exc:
        return render_template("privacy.html", subject=subject, result=None,
                               error=f"Nothing found: {exc}."), 404
    except GatewayError as exc:
        return render_template("privacy.html", subject=subject, result=None,
                               error=str(exc)), 400
    return render_template("privacy.html", subject=subject, result=result), 200


@bp.post("/export")
@require(Permission.PRIVACY_REQUESTS)
def export() -> Response:
    try:
        bundle: dict[str, Any] = layer().export_subject(actor(), **_subject())
    except NotFound:
        abort(404)
    except GatewayError as exc:
        abort(400, description=str(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    disposition = f'attachment; filename="subject-export-{stamp}.json"'
    return Response(json.dumps(bundle, indent=2, ensure_ascii=False),
                    mimetype="application/json", headers={"Content-Disposition": disposition})


@bp.post("/delete/confirm")
@require(Permission.PRIVACY_REQUESTS)
def confirm() -> str:
    return render_template("privacy_confirm.html", subject=_subject(),
                           count=int(request.form.get("count", "0") or 0))


@bp.post("/delete")
@require(Permission.PRIVACY_REQUESTS)
def delete() -> tuple[str, int] | BaseResponse:
    subject = _subject()
    if request.form.get("confirm", "").strip().upper() != "DELETE":
        return render_template("privacy_confirm.html", subject=subject, count=0,
                               error="Type DELETE to confirm."), 400
    try:
        result = layer().delete_subject(actor(), **subject)
    except NotFound:
        abort(404)
    except GatewayError as exc:
        abort(400, description=str(exc))
    for conversation_id in result.get("deleted", []):
        search_index().forget(conversation_id)
    return redirect(url_for("privacy.index", notice="deleted"))


@bp.get("/consent")
@require(Permission.CONSENT_VIEW)
def consent() -> str:
    items = layer().list_conversations(actor(), limit=100)
    return render_template("consent.html", items=items, selected=None, events=[])


@bp.get("/consent/<conversation_id>")
@require(Permission.CONSENT_VIEW)
def consent_of(conversation_id: str) -> str:
    try:
        events = layer().consent_ledger(actor(), conversation_id)
    except NotFound:
        abort(404)
    items = layer().list_conversations(actor(), limit=100)
    return render_template("consent.html", items=items, selected=conversation_id,
                           events=events)
