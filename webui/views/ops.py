"""Machine endpoints for the fleet: /healthz (JSON) and /metrics (Prometheus text).

Neither needs a login, and neither says anything about conversations or people.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.health import Facts, evaluate
from webui.views.dashboard import current_facts

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    facts = current_facts()
    status, reasons = evaluate(facts)
    body = {"status": status, "reasons": reasons,
            "service_running": facts.service_running,
            "broker_connected": facts.broker_connected,
            # speech engine, model and the tagger that runs ("semantic" or "rules"); {} while
            # the service is not running
            "engine": facts.engine,
            "jobs": facts.jobs, "sync_backlog": facts.sync_backlog,
            "disk_free_fraction": round(facts.disk_free / facts.disk_total, 4)
            if facts.disk_total else None,
            "badges_online": sum(1 for b in facts.badges if b["state"] == "online")}
    return jsonify(body), 200


def _line(name: str, value: float | int | None, help_text: str, kind: str = "gauge",
          labels: dict[str, str] | None = None) -> list[str]:
    if value is None:
        return []
    label = ""
    if labels:
        label = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name}{label} {value}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(facts: Facts) -> str:
    status, _ = evaluate(facts)
    lines: list[str] = []
    lines += _line("salestag_up", int(status == "ok"), "1 when every health check passes.")
    lines += _line("salestag_service_running", int(facts.service_running),
                   "1 when the gateway service wrote its status recently.")
    lines += _line("salestag_broker_connected",
                   None if facts.broker_connected is None else int(facts.broker_connected),
                   "1 when the gateway is connected to the local broker.")
    lines += ["# HELP salestag_jobs Transcription jobs by state.", "# TYPE salestag_jobs gauge"]
    for state in sorted(set(facts.jobs) | {"queued", "running", "failed"}):
        lines.append(f'salestag_jobs{{state="{_escape(state)}"}} {facts.jobs.get(state, 0)}')
    lines += _line("salestag_sync_backlog", facts.sync_backlog,
                   "Sealed envelopes waiting to be sent to HQ.")
    lines += _line("salestag_sync_last_success_timestamp_seconds", facts.sync_last_success,
                   "When HQ last acknowledged an envelope.")
    lines += _line("salestag_disk_free_bytes", facts.disk_free, "Free bytes on the data disk.")
    lines += _line("salestag_disk_total_bytes", facts.disk_total, "Size of the data disk.")
    lines += _line("salestag_cpu_temperature_celsius", facts.cpu_temp_c,
                   "Highest thermal-zone temperature.")
    lines += _line("salestag_load1", facts.load[0], "One-minute load average.")
    lines += _line("salestag_badges_online",
                   sum(1 for b in facts.badges if b["state"] == "online"),
                   "Badges whose last status is online.")
    lines += _line("salestag_ingest_messages_total", facts.ingest.get("messages", 0),
                   "Badge messages received since the service started.", "counter")
    rejected = facts.ingest.get("rejected") or {}
    if rejected:
        lines += ["# HELP salestag_ingest_rejected_total Badge messages rejected, by reason.",
                  "# TYPE salestag_ingest_rejected_total counter"]
        lines += [f'salestag_ingest_rejected_total{{reason="{_escape(str(k))}"}} {v}'
                  for k, v in sorted(rejected.items())]
    return "\n".join(lines) + "\n"


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render_metrics(current_facts()),
                    mimetype="text/plain; version=0.0.4; charset=utf-8")
