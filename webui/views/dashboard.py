"""The dashboard: the box's health at a glance, refreshed live."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gateway.accounts.roles import Permission
from gateway.health import Facts, evaluate, gather
from webui.context import db, web
from webui.notices import NOTICES
from webui.security import require

bp = Blueprint("dashboard", __name__)


def current_facts() -> Facts:
    config = web().config
    return gather(config.data_dir, db(), upstream_enabled=config.upstream.enabled,
                  broker=(config.broker.host, config.broker.port))


@bp.get("/")
@require(Permission.HEALTH_VIEW)
def index() -> str:
    facts = current_facts()
    status, reasons = evaluate(facts)
    from webui.views.setup import setup_done

    return render_template("dashboard.html", facts=facts, status=status, reasons=reasons,
                           setup_pending=not setup_done(),
                           notice=NOTICES.get(request.args.get("notice", "")))


@bp.get("/dashboard/panel")
@require(Permission.HEALTH_VIEW)
def panel() -> str:
    """The live part of the dashboard, fetched every few seconds by the page's script."""
    facts = current_facts()
    status, reasons = evaluate(facts)
    return render_template("_health_panel.html", facts=facts, status=status, reasons=reasons)
