"""Consent and subject bookkeeping around transcription (called by the transcription worker).

After speech recognition, :meth:`TranscriptGate.review` applies the site's consent policy: an
opt-out phrase purges the conversation, a missing disclosure under an all-party policy holds or
purges it. :meth:`TranscriptGate.settle` then records what was heard in the consent ledger and
keeps HMACs of the identifiers the redactor removed.

The gate is also the worker's only way to content: it decrypts the spooled audio and seals the
transcript with the conversation's data key, which never leaves the privacy layer.
Transcription is the device's own processing, not a person's read, and is not audited.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.intel.redactor import Finding
from gateway.intel.talk import TalkMetrics
from gateway.intel.types import Segment, Tag
from gateway.privacy.access import AccessLayer
from gateway.privacy.consent import Verdict, review
from gateway.store.consent import (
    CONSENT_GIVEN,
    DISCLOSURE_DECLARED,
    DISCLOSURE_DETECTED,
    HELD,
    OPT_OUT,
)
from gateway.store.conversations import DONE, Conversation
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

    def audio(self, conversation: Conversation) -> bytes:
        """The conversation's spooled audio, decrypted (ContentGone if its key was destroyed)."""
        return self.access.ctx.spool.read(conversation.id, self._key(conversation))

    def save_transcript(self, conversation: Conversation, *, segments: Sequence[Segment],
                        tags: Sequence[Tag], duration_s: float, speech_s: float,
                        sentiments: Sequence[float] = (), talk: TalkMetrics | None = None,
                        status: str = DONE) -> None:
        """Store the transcript and tags sealed with the conversation's data key."""
        self.access.conversations.save_transcript(
            conversation.id, self._key(conversation), segments=segments, tags=tags,
            duration_s=duration_s, speech_s=speech_s, sentiments=sentiments, talk=talk,
            status=status)

    def _key(self, conversation: Conversation) -> bytes:
        return self.access._data_key(conversation)  # the privacy layer's own use

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
               identifiers: Sequence[Finding]) -> None:
        """After the transcript is saved: ledger, subject refs, hold; undo a race with a purge."""
        access = self.access
        if not access.ctx.vault.has(conversation.id) and not conversation.wrapped_key:
            # purged (e.g. opt-out by button) while being transcribed: erase what was saved
            access.erasure.erase(conversation.id, status="purged", reason="opt_out",
                                 actor=ACTOR, at=access.ctx.clock())
            return
        if verdict.disclosure is not None:
            self._record(conversation.id, DISCLOSURE_DETECTED, verdict,
                         self._key(conversation))
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
