"""The audit log with filters, and chain verification on demand."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gateway.accounts.roles import Permission
from gateway.privacy.audit import verify
from gateway.store.audit import AuditEntry, AuditLog
from webui import audit
from webui.access import privacy_context
from webui.context import db
from webui.security import require

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 200


def _filtered() -> tuple[list[AuditEntry], dict[str, str]]:
    filters = {k: request.values.get(k, "").strip()[:100]
               for k in ("actor", "action", "object")}
    entries = AuditLog(db()).entries(newest_first=True, limit=5000)
    chosen = [e for e in entries
              if all(not v or v.lower() in getattr(e, k).lower() for k, v in filters.items())]
    return chosen[:PAGE], filters


@bp.get("/")
@require(Permission.AUDIT_VIEW)
def index() -> str:
    audit.record("audit.read", "audit_log")
    entries, filters = _filtered()
    return render_template("audit.html", entries=entries, filters=filters, report=None)


@bp.post("/verify")
@require(Permission.AUDIT_VIEW)
def run_verify() -> str:
    log = AuditLog(db())
    report = verify(log.entries(), log.checkpoints(), privacy_context().signer)
    audit.record("audit.verify", "audit_log", ok=report.ok, entries=report.entries,
                 problems=len(report.problems))
    entries, filters = _filtered()
    return render_template("audit.html", entries=entries, filters=filters, report=report)
