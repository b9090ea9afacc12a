"""Consent and subject bookkeeping around transcription (called by the transcription worker).

After speech recognition, :meth:`TranscriptGate.review` applies the site's consent policy: an
opt-out phrase purges the conversation, a missing disclosure under an all-party policy holds or
purges it. :meth:`TranscriptGate.settle` then records what was heard in the consent ledger and
keeps HMACs of the identifiers the redactor removed.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.intel.redactor import Finding
from gateway.intel.types import Tag
from gateway.privacy.access import AccessLayer
from gateway.privacy.consent import Verdict, review
from gateway.store.consent import (
    CONSENT_GIVEN,
    DISCLOSURE_DECLARED,
    DISCLOSURE_DETECTED,
    HELD,
    OPT_OUT,
)
from gateway.store.conversations import Conversation
from gateway.store.erasure import CONTENT_GONE

ACTOR = "system:consent"


class TranscriptGate:
    """The worker's view of the privacy layer, over the worker's own connection."""

    def __init__(self, access: AccessLayer) -> None:
        self.access = access

    def gone(self, conversation: Conversation) -> bool:
        """Was the conversation purged or deleted (so a job for it has nothing to do)?"""
        return conversation.status in CONTENT_GONE or (
            not conversation.wrapped_key and not self.access.ctx.vault.has(conversation.id))

    def data_key(self, conversation: Conversation) -> bytes:
        return self.access.data_key(conversation)

    def review(self, conversation: Conversation, tags: Sequence[Tag]) -> Verdict:
        """Decide; an opt-out heard in speech is recorded and purged here and now."""
        declared = conversation.consent_declared or self.access.ledger.has(
            conversation.id, (DISCLOSURE_DECLARED, CONSENT_GIVEN))
        verdict = review(tags, declared=declared, policy=self.access.ctx.consent)
        if verdict.outcome == "purge":
            self._record(conversation.id, OPT_OUT if verdict.reason == "opt_out" else HELD,
                         verdict, None)
            self.access.purge(ACTOR, conversation.id, reason=verdict.reason)
        return verdict

    def settle(self, conversation: Conversation, verdict: Verdict,
               identifiers: Sequence[Finding], data_key: bytes) -> None:
        """After the transcript is saved: ledger, subject refs, hold; undo a race with a purge."""
        access = self.access
        if not access.ctx.vault.has(conversation.id) and not conversation.wrapped_key:
            # purged (e.g. opt-out by button) while being transcribed: erase what was saved
            access.erasure.erase(conversation.id, status="purged", reason="opt_out",
                                 actor=ACTOR, at=access.ctx.clock())
            return
        if verdict.disclosure is not None:
            self._record(conversation.id, DISCLOSURE_DETECTED, verdict, data_key)
        key = access.ctx.subject_key
        for finding in identifiers:
            access.subjects.add(conversation.id, finding.kind, key.ref(finding.kind,
                                                                       finding.normalized))
        if verdict.outcome == "hold":
            self._record(conversation.id, HELD, verdict, None)
            access.hold(ACTOR, conversation.id, reason=verdict.reason)

    def _record(self, conversation_id: str, kind: str, verdict: Verdict,
                data_key: bytes | None) -> None:
        policy = self.access.ctx.consent
        heard = verdict.opt_out if kind == OPT_OUT else verdict.disclosure
        self.access.ledger.record(
            conversation_id, kind, at=self.access.ctx.clock(),
            source="phrase" if kind in (OPT_OUT, DISCLOSURE_DETECTED) else "policy",
            policy=policy.jurisdiction, disclosure_version=policy.disclosure_version,
            offset_s=heard.offset_s if heard and kind != HELD else None,
            confidence=heard.confidence if heard and kind != HELD else None,
            words=heard.words if heard and kind == DISCLOSURE_DETECTED else None,
            data_key=data_key)
