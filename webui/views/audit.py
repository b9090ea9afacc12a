"""The audit log with filters, and chain verification on demand, through the access layer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from gateway.accounts.roles import Permission
from webui.access import actor, layer
from webui.security import require

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 200
FILTERS = ("actor", "action", "object")


def _page(report: dict[str, Any] | None) -> str:
    filters = {k: request.values.get(k, "").strip()[:100] for k in FILTERS}
    entries = layer().audit_entries(actor(), limit=PAGE, newest_first=True, contains=filters)
    return render_template("audit.html", entries=entries, filters=filters, report=report)


@bp.get("/")
@require(Permission.AUDIT_VIEW)
def index() -> str:
    return _page(None)


@bp.post("/verify")
@require(Permission.AUDIT_VIEW)
def run_verify() -> str:
    return _page(layer().verify_audit(actor()))
