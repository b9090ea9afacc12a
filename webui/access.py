"""The web UI's way to conversation data and the audit log: the privacy access layer, which
audits every read, search, export, correction and deletion under the signed-in person's name.
Its keys stay inside: pages get an access layer, never the privacy context."""

from __future__ import annotations

import threading

from gateway.privacy.access import AccessLayer
from gateway.privacy.context import PrivacyContext, open_privacy
from gateway.privacy.search import SearchIndex
from webui.context import current_user, db, web

_LOCK = threading.Lock()
_PRIVACY = "privacy_context"
_INDEX = "search_index"


def actor() -> str:
    """The audit log's name for the signed-in person (``user:NAME``)."""
    user = current_user()
    return f"user:{user.username}" if user is not None else "web:anonymous"


def _privacy_context() -> PrivacyContext:
    """Keys and policies, opened once per web process."""
    ctx = web()
    with _LOCK:
        if _PRIVACY not in ctx.extras:
            layout = ctx.layout
            ctx.extras[_PRIVACY] = open_privacy(
                ctx.config, keys_dir=layout.keys, kek_path=layout.kek,
                signing_key=layout.signing_key, signing_public=layout.signing_public,
                spool_dir=layout.spool, config_path=ctx.config_path)
        context: PrivacyContext = ctx.extras[_PRIVACY]
    return context


def search_index() -> SearchIndex:
    """The process's in-memory full-text index (rebuilt from decrypted text after a start)."""
    ctx = web()
    with _LOCK:
        index: SearchIndex = ctx.extras.setdefault(_INDEX, SearchIndex())
    return index


def layer() -> AccessLayer:
    """An access layer over this request's database connection."""
    return AccessLayer(db(), _privacy_context())
