"""Recording what people do in the web UI in the gateway's hash-chained audit log.

Reads, searches, exports, corrections and deletions are audited by the access layer itself;
this records the rest (sign-ins, accounts, setup, settings, badges). Never content.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gateway.store.audit import AuditLog
from webui.context import current_user, db

log = logging.getLogger(__name__)


def actor_name() -> str:
    user = current_user()
    return f"user:{user.username}" if user is not None else "web:anonymous"


def record(action: str, obj: str, *, actor: str | None = None, **detail: Any) -> None:
    """Append an audit entry for ``action`` on ``obj`` by the signed-in person (or ``actor``,
    a user name, for acts before a session exists)."""
    who = actor_name() if actor is None else (
        "web:anonymous" if actor == "anonymous" else f"user:{actor}")
    AuditLog(db()).append(actor=who, action=action, object=obj[:200], detail=detail,
                          at=time.time())
