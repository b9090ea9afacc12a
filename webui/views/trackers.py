"""Smart trackers: a manager gives 5-20 example sentences, sees which recent segments they
would match (with the score and the similarity to the nearest example), and saves the tracker
into ``tagger.trackers`` on this gateway. Recent segments are read through the audited access
layer; the model runs on the box, in a short-lived process of its own for each preview (see
:mod:`gateway.semantic.preview`), so this process never holds it: nothing leaves the box."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts.roles import Permission
from gateway.config import ConfigError
from gateway.intel import TrackerError, parse_tracker
from gateway.intel.trackers import THRESHOLD, Tracker, hears
from gateway.local_settings import change_settings
from gateway.semantic.catalogue import DEFAULT, TextModelError, installed
from gateway.semantic.preview import preview as score_in_child
from webui.access import actor, layer
from webui.context import web
from webui.notices import NOTICES
from webui.security import require

bp = Blueprint("trackers", __name__, url_prefix="/trackers")
RECENT_CONVERSATIONS = 10
SHOWN = 25


NOT_INSTALLED = ("the semantic tagger's model is not installed: run "
                 f"salestag-gateway models install {DEFAULT}")


def _model_ready() -> bool:
    """Is the text model installed (its files are checked when a preview loads it)?"""
    config = web().config
    try:
        return config.tagger.engine == "semantic" and DEFAULT in installed(
            config.data_dir / "models")
    except TextModelError:
        return False


def _spec(form: Any) -> str:
    """A smart tracker definition from the form: ``label [@speaker] ~ example | ...``."""
    label = form.get("label", "").strip()
    speaker = form.get("speaker", "")
    examples = [line.strip().replace("|", "/") for line in form.get("examples", "").splitlines()]
    head = f"{label} @{speaker}" if speaker in ("customer", "rep") else label
    return f"{head} ~ " + " | ".join(e for e in examples if e)


def _preview(tracker: Tracker) -> list[dict[str, Any]]:
    """Recent segments (audited read) with their score and nearest-example similarity."""
    segments = layer().recent_segments(actor(), conversations=RECENT_CONVERSATIONS)
    if not segments:
        return []
    scored = score_in_child(web().config.data_dir / "models", tracker.examples,
                            [s["text"] for s in segments])
    for segment, found in zip(segments, scored, strict=True):
        segment["score"] = found.score
        segment["similarity"] = found.similarity
        segment["match"] = segment["score"] >= THRESHOLD and hears(tracker, segment["speaker"])
    return sorted(segments, key=lambda s: -s["score"])[:SHOWN]


def _page(form: dict[str, str] | None = None, error: str = "", rows: list[dict[str, Any]]
          | None = None, status: int = 200) -> tuple[str, int]:
    config = web().config
    return render_template(
        "trackers.html", trackers=config.tagger.trackers, form=form or {}, error=error,
        rows=rows, threshold=THRESHOLD, model_ready=_model_ready(),
        notice=NOTICES.get(request.args.get("notice", ""))), status


@bp.get("/")
@require(Permission.TRACKERS_MANAGE)
def index() -> tuple[str, int]:
    return _page()


@bp.post("/preview")
@require(Permission.TRACKERS_MANAGE)
def preview() -> tuple[str, int]:
    form = dict(request.form)
    try:
        tracker = parse_tracker(_spec(form))
    except TrackerError as exc:
        return _page(form, str(exc), status=400)
    if not _model_ready():
        return _page(form, NOT_INSTALLED, status=409)
    try:
        return _page(form, rows=_preview(tracker))
    except TextModelError as exc:
        return _page(form, str(exc), status=409)


@bp.post("/save")
@require(Permission.TRACKERS_MANAGE)
def save() -> tuple[str, int] | Response:
    form = dict(request.form)
    spec = _spec(form)
    try:
        tracker = parse_tracker(spec)
        ctx = web()
        kept = [t for t in ctx.config.tagger.trackers if parse_tracker(t).label != tracker.label]
        before = list(ctx.config.tagger.trackers)
        ctx.config, _ = change_settings(ctx.config, {"tagger.trackers": [*kept, spec]})
    except (TrackerError, ConfigError) as exc:
        return _page(form, str(exc), status=400)
    layer().record_config_change(actor(), {"tagger.trackers": (before,
                                                               ctx.config.tagger.trackers)})
    return redirect(url_for("trackers.index", notice="tracker_saved"))
