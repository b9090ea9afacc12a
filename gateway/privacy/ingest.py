"""Consent events from badges: the session start's flags and the consent control messages.

Runs in the ingest thread with its own connection. An opt-out purges at once: the audio spooled
so far, the data key and every row of content go, within the handling of that one message.
"""

from __future__ import annotations

import logging

from gateway.privacy.access import AccessLayer
from gateway.protocol.control import ConsentGiven, ConsentMessage, OptOut
from gateway.protocol.events import Started
from gateway.store.consent import CONSENT_GIVEN, DISCLOSURE_DECLARED, OPT_OUT
from gateway.store.erasure import CONTENT_GONE

log = logging.getLogger(__name__)

KINDS = {"consent_declared": DISCLOSURE_DECLARED, "consent_given": CONSENT_GIVEN,
         "opt_out": OPT_OUT}


class IngestPrivacy:
    """Records badge-declared consent and customer references; purges on an opt-out."""

    def __init__(self, access: AccessLayer) -> None:
        self.access = access

    def started(self, event: Started) -> None:
        """Recorder hook: a session started (or its late start message arrived)."""
        self.session_started(event.session_id, customer_ref=event.customer_ref,
                             consent_declared=event.consent_declared, at=event.started_at)

    def control(self, badge_id: str, msg: ConsentMessage, now: float) -> None:
        """MQTT ingest hook: a consent control message from a badge."""
        kind = ("opt_out" if isinstance(msg, OptOut) else
                "consent_given" if isinstance(msg, ConsentGiven) else "consent_declared")
        self.consent(badge_id, msg.session_id, kind, msg.at if msg.at is not None else now)

    def session_started(self, conversation_id: str, *, customer_ref: str | None,
                        consent_declared: bool, at: float) -> None:
        access = self.access
        if customer_ref:
            access.subjects.add(conversation_id, "customer_ref",
                                access.ctx.subject_key.ref("customer_ref", customer_ref))
        if consent_declared and not access.ledger.has(conversation_id, (DISCLOSURE_DECLARED,)):
            self._record(conversation_id, DISCLOSURE_DECLARED, at)

    def consent(self, badge_id: str, conversation_id: str, kind: str, at: float) -> bool:
        """Record a consent message (``consent_declared``, ``consent_given``, ``opt_out``);
        returns True if the conversation was purged."""
        ledger_kind = KINDS[kind]
        self._record(conversation_id, ledger_kind, at)
        if ledger_kind != OPT_OUT:
            return False
        conversations = self.access.conversations
        if conversations.exists(conversation_id) and \
                conversations.get(conversation_id).status not in CONTENT_GONE:
            self.access.purge(f"badge:{badge_id}", conversation_id, reason="opt_out")
            return True
        # nothing stored yet: still destroy a key and audio that might exist
        self.access.ctx.vault.destroy(conversation_id)
        self.access.ctx.spool.delete(conversation_id)
        return False

    def _record(self, conversation_id: str, kind: str, at: float) -> None:
        policy = self.access.ctx.consent
        self.access.ledger.record(conversation_id, kind, at=at, source="button",
                                  policy=policy.jurisdiction,
                                  disclosure_version=policy.disclosure_version)
