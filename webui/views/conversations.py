"""Conversations for coaching: search, transcript with tags on a timeline, talk ratio, tag
corrections and deletion. Every view goes through the audited access layer."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts.roles import Permission
from gateway.errors import GatewayError
from gateway.store.errors import NotFound
from webui.access import actor, layer, search_index
from webui.notices import NOTICES
from webui.security import require
from webui.timeline import colour, place_tags, talk_shares

bp = Blueprint("conversations", __name__, url_prefix="/conversations")

TAG_NAMES = ("consent.disclosure", "consent.opt_out", "objection.price", "objection.timing",
             "objection.authority", "objection.trust", "competitor.mention", "buying_signal",
             "financing", "next_step")


@bp.get("/")
@require(Permission.CONVERSATIONS_LIST)
def index() -> str:
    query = request.args.get("q", "").strip()[:200]
    hits = layer().search_indexed(actor(), search_index(), query) if query else []
    items = [] if query else layer().list_conversations(actor(), limit=100)
    return render_template("conversations.html", items=items, hits=hits, query=query,
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.get("/panel")
@require(Permission.CONVERSATIONS_LIST)
def panel() -> str:
    """The list's rows, refreshed live while new conversations arrive (metadata only)."""
    return render_template("_conversation_rows.html",
                           items=layer().list_conversations(actor(), limit=100, refresh=True))


def _load(conversation_id: str) -> dict[str, object]:
    try:
        return layer().get_conversation(actor(), conversation_id)
    except NotFound:
        abort(404)


@bp.get("/<conversation_id>")
@require(Permission.CONVERSATIONS_READ)
def show(conversation_id: str, error: str | None = None, status: int = 200
         ) -> tuple[str, int]:
    record = _load(conversation_id)
    segments = list(record.get("segments") or [])  # type: ignore[call-overload]
    tags = list(record.get("tags") or [])  # type: ignore[call-overload]
    duration = float(record.get("duration_s") or 0)  # type: ignore[arg-type]
    if not duration and segments:
        duration = float(segments[-1]["end"])
    return render_template(
        "conversation.html", c=record, segments=segments, tags=tags, duration=duration,
        marks=place_tags(tags, duration), shares=talk_shares(segments), colour=colour,
        tag_names=TAG_NAMES, error=error,
        notice=NOTICES.get(request.args.get("notice", ""))), status


@bp.post("/<conversation_id>/tags")
@require(Permission.CONVERSATIONS_CORRECT)
def correct(conversation_id: str) -> tuple[str, int] | Response:
    form = request.form
    action = form.get("action", "")
    try:
        index = int(form["index"]) if form.get("index", "") != "" else None
        start = float(form["start"]) if form.get("start") else None
        end = float(form["end"]) if form.get("end") else None
        layer().correct_tag(actor(), conversation_id, action=action, index=index,
                            tag=form.get("tag") or None, new_tag=form.get("new_tag") or None,
                            start=start, end=end)
    except NotFound:
        abort(404)
    except (GatewayError, ValueError) as exc:
        return show(conversation_id, error=f"Not changed: {exc}", status=400)
    return redirect(url_for("conversations.show", conversation_id=conversation_id,
                            notice="tag_corrected") + "#tags")


@bp.get("/<conversation_id>/delete")
@require(Permission.PRIVACY_REQUESTS)
def confirm_delete(conversation_id: str) -> str:
    return render_template("confirm_delete.html", conversation_id=conversation_id)


@bp.post("/<conversation_id>/delete")
@require(Permission.PRIVACY_REQUESTS)
def delete(conversation_id: str) -> tuple[str, int] | Response:
    if request.form.get("confirm", "").strip().upper() != "DELETE":
        return render_template("confirm_delete.html", conversation_id=conversation_id,
                               error="Type DELETE to confirm."), 400
    try:
        layer().delete_conversation(actor(), conversation_id)
    except NotFound:
        abort(404)
    search_index().forget(conversation_id)
    return redirect(url_for("conversations.index", notice="deleted"))
