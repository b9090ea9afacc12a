"""Recording what people do in the web UI in the gateway's audit log."""

from __future__ import annotations

import logging
from typing import Any

from webui.context import current_user

log = logging.getLogger(__name__)


def actor_name() -> str:
    user = current_user()
    return f"web:{user.username}" if user is not None else "web:anonymous"


def record(action: str, obj: str, *, actor: str | None = None, **detail: Any) -> None:
    """Append an audit entry for ``action`` on ``obj`` by the signed-in person."""
    who = f"web:{actor}" if actor and not actor.startswith("web:") else (actor or actor_name())
    log.info("audit %s %s by %s", action, obj, who)
