"""Recording what people do in the web UI in the gateway's hash-chained audit log.

Reads, searches, exports, corrections and deletions are audited by the access layer itself;
this records the rest (sign-ins, accounts, setup, settings, badges) through the same layer.
Never content.
"""

from __future__ import annotations

from typing import Any

from webui.access import actor as signed_in_actor
from webui.access import layer


def record(action: str, obj: str, *, actor: str | None = None, **detail: Any) -> None:
    """Append an audit entry for ``action`` on ``obj`` by the signed-in person (or ``actor``,
    a user name, for acts before a session exists)."""
    who = signed_in_actor() if actor is None else (
        "web:anonymous" if actor == "anonymous" else f"user:{actor}")
    layer().record_event(who, action, obj, **detail)
