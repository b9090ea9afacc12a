"""The access layer: the one way people (and policies) read, search, export, correct and delete.

Every method takes the ``actor`` (``user:alice``, ``cli:root``, ``badge:b-7``,
``system:retention`` ...) first, appends an audit entry (actor, action, object, time) to the
hash-chained log, and returns plain data (dicts, lists, strings, numbers) that the CLI prints as
JSON and the web UI renders. Content never appears in the audit log.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.intel.redactor import redact
from gateway.intel.types import Segment, Tag
from gateway.privacy.admin import Administration
from gateway.privacy.base import check_actor
from gateway.privacy.errors import ContentGone, CorrectionError
from gateway.privacy.search import SearchIndex
from gateway.privacy.subjects import Subject
from gateway.store.conversations import DONE, Conversation, public_fields
from gateway.store.db import transaction
from gateway.store.erasure import DELETED, HELD, PURGED
from gateway.store.errors import NotFound
from gateway.sync.schema import TAG_PATTERN, Correction

EXPORT_FORMAT = "salestag-subject-export"


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class AccessLayer(Administration):
    """Audited access to conversations, subjects, consent, corrections, keys and the audit log.

    See :class:`~gateway.privacy.admin.Administration` for the audit log, keys, retention and
    configuration methods.
    """

    # -- reading ---------------------------------------------------------------------------

    def list_conversations(self, actor: str, *, limit: int = 50,
                           refresh: bool = False) -> list[dict[str, Any]]:
        """Newest conversations' metadata (no content). A ``refresh`` (a list a page keeps up
        to date) is audited only when what it shows differs from the actor's last listing."""
        items = [public_fields(c) for c in self.conversations.recent(limit)]
        shown = hashlib.sha256(json.dumps([(i["id"], i["status"]) for i in items])
                               .encode()).hexdigest()[:16]
        if refresh:
            last = self.audit.latest(actor=actor, action="conversation.list")
            if last is not None and last.detail.get("shown") == shown:
                return items
        self._log_read(actor, "conversation.list", "conversations", content=False,
                       count=len(items), shown=shown)
        return items

    def _record(self, conversation: Conversation, *, content: bool) -> dict[str, Any]:
        record = public_fields(conversation)
        key: bytes | None = None
        if content:
            try:
                key = self._data_key(conversation)
            except ContentGone:
                key = None
        record["content"] = ("deleted" if key is None and content else
                             "available" if key is not None else "not_requested")
        record["consent"] = [{
            "at": e.at, "offset_s": _r(e.offset_s), "kind": e.kind, "source": e.source,
            "policy": e.policy, "disclosure_version": e.disclosure_version,
            "confidence": e.confidence,
            **({"words": self.ledger.words(e, key)} if key is not None and e.has_words else {}),
        } for e in self.ledger.events(conversation.id)]
        record["corrections"] = [{
            "target": c.target, "action": c.action, "tag": c.tag, "new_tag": c.new_tag,
            "start": c.start, "end": c.end, "by": c.actor, "at": c.at,
        } for c in self.corrections.of(conversation.id)]
        stone = self.erasure.tombstone(conversation.id)
        record["tombstone"] = None if stone is None else {
            "deleted_at": stone.deleted_at, "reason": stone.reason, "by": stone.actor}
        if key is not None:
            record["segments"] = [
                {"index": i, "start": _r(s.start), "end": _r(s.end), "speaker": s.speaker,
                 "text": s.text}
                for i, s in enumerate(self.conversations.segments(conversation.id, key))]
            record["tags"] = [
                {"index": i, "tag": t.tag, "start": _r(t.start), "end": _r(t.end),
                 "confidence": _r(t.confidence), "text": t.text}
                for i, t in enumerate(self.conversations.tags(conversation.id, key))]
        else:
            record["tags"] = [{"index": i, **span} for i, span in
                              enumerate(self.conversations.tag_spans(conversation.id))]
        return record

    def get_conversation(self, actor: str, conversation_id: str, *,
                         content: bool = True) -> dict[str, Any]:
        """One conversation: metadata, consent ledger, corrections and (if kept) its content."""
        conversation = self._get(conversation_id)
        record = self._record(conversation, content=content)
        self._log_read(actor, "conversation.read", f"conversation:{conversation_id}",
                       content=record["content"] == "available")
        return record

    def recent_segments(self, actor: str, *, conversations: int = 10,
                        purpose: str = "tracker-preview") -> list[dict[str, Any]]:
        """The segments of the newest conversations whose content is kept (each conversation
        read is audited, with ``purpose``)."""
        found: list[dict[str, Any]] = []
        for conversation in self.conversations.recent(conversations):
            try:
                key = self._data_key(conversation)
            except ContentGone:
                continue
            segments = self.conversations.segments(conversation.id, key)
            self._log(actor, "conversation.read", f"conversation:{conversation.id}",
                      content="segments", purpose=purpose)
            found += [{"conversation": conversation.id, "index": i, "start": _r(s.start),
                       "speaker": s.speaker, "text": s.text} for i, s in enumerate(segments)]
        return found

    def search(self, actor: str, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Segments containing ``text`` (case-insensitive), searched in memory after decryption;
        there is no index on disk. Held and deleted conversations are not searched."""
        needle = text.casefold().strip()
        hits: list[dict[str, Any]] = []
        if needle:
            for conversation in self.conversations.in_status(DONE):
                try:
                    key = self._data_key(conversation)
                except ContentGone:
                    continue
                for i, segment in enumerate(self.conversations.segments(conversation.id, key)):
                    if needle in segment.text.casefold():
                        hits.append({"conversation_id": conversation.id, "index": i,
                                     "start": _r(segment.start), "end": _r(segment.end),
                                     "text": segment.text})
                if len(hits) >= limit:
                    break
        self._log_read(actor, "conversation.search", "conversations", content=bool(needle),
                       results=len(hits[:limit]), query_chars=len(needle))
        return hits[:limit]

    def search_indexed(self, actor: str, index: SearchIndex, text: str, *,
                       limit: int = 50) -> list[dict[str, Any]]:
        """Like :meth:`search`, ranked, through an in-memory FTS5 index (never on disk) that is
        first brought in step with the conversations whose content may be read."""

        def segments_of(conversation_id: str) -> list[Segment] | None:
            try:
                conversation = self._get(conversation_id)
                key = self._data_key(conversation)
                return self.conversations.segments(conversation_id, key)
            except (ContentGone, NotFound):
                return None

        index.sync([c.id for c in self.conversations.in_status(DONE)], segments_of)
        hits = index.search(text, limit=limit)
        self._log_read(actor, "conversation.search", "conversations",
                       content=bool(text.strip()), results=len(hits),
                       query_chars=len(text.strip()))
        return [{"conversation_id": h.conversation_id, "index": h.index, "start": _r(h.start),
                 "end": _r(h.end), "text": h.text, "snippet": h.snippet} for h in hits]

    def consent_ledger(self, actor: str, conversation_id: str) -> list[dict[str, Any]]:
        record = self._record(self._get(conversation_id), content=False)
        self._log_read(actor, "consent.read", f"conversation:{conversation_id}", content=False)
        return list(record["consent"])

    # -- data subjects ---------------------------------------------------------------------

    def _find(self, subject: Subject | None, conversation_id: str | None
              ) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        if subject is not None:
            found.update(self.subjects.conversations(subject.refs(self.ctx.subject_key)))
        if conversation_id:
            if not self.conversations.exists(conversation_id):
                raise NotFound(f"no conversation {conversation_id}")
            found.setdefault(conversation_id, set()).add("conversation_id")
        return found

    @staticmethod
    def _subject(phone: str | None, email: str | None, customer_ref: str | None
                 ) -> Subject | None:
        if phone or email or customer_ref:
            return Subject(phone=phone, email=email, customer_ref=customer_ref)
        return None

    def find_subject(self, actor: str, *, phone: str | None = None, email: str | None = None,
                     customer_ref: str | None = None,
                     conversation_id: str | None = None) -> dict[str, Any]:
        """Conversations that mention a phone number or e-mail address (before redaction),
        carry a badge customer reference, or have the given id."""
        subject = self._subject(phone, email, customer_ref)
        if subject is None and not conversation_id:
            subject = Subject()  # raises BadSubject on normalizing
            subject.normalized()
        found = self._find(subject, conversation_id)
        items = []
        for cid in sorted(found):
            conversation = self._get(cid)
            items.append({"conversation_id": cid, "matched": sorted(found[cid]),
                          "status": conversation.status, "started_at": conversation.started_at,
                          "badge_id": conversation.badge_id, "rep_id": conversation.rep_id})
        ref = subject.primary_ref(self.ctx.subject_key) if subject else None
        self._log_read(actor, "subject.find", f"subject:{ref or conversation_id}",
                       content=False, conversations=len(items))
        return {"subject_ref": ref, "conversations": items}

    def export_subject(self, actor: str, *, phone: str | None = None, email: str | None = None,
                       customer_ref: str | None = None,
                       conversation_id: str | None = None) -> dict[str, Any]:
        """A portable JSON bundle of everything about a subject, transcripts included."""
        subject = self._subject(phone, email, customer_ref)
        found = self._find(subject, conversation_id)
        ref = subject.primary_ref(self.ctx.subject_key) if subject else None
        records = [dict(self._record(self._get(cid), content=True), matched=sorted(found[cid]))
                   for cid in sorted(found)]
        bundle = {
            "format": EXPORT_FORMAT, "version": 1, "gateway_id": self.ctx.gateway_id,
            "exported_at": self.ctx.clock(), "exported_by": actor,
            "subject": {"subject_ref": ref,
                        "identifiers": [k for k, v in (("phone", phone), ("email", email),
                                                       ("customer_ref", customer_ref),
                                                       ("conversation_id", conversation_id))
                                        if v]},
            "conversations": records,
        }
        self._log_read(actor, "subject.export", f"subject:{ref or conversation_id}",
                       content=any(r["content"] == "available" for r in records),
                       conversations=len(found))
        return bundle

    def delete_subject(self, actor: str, *, phone: str | None = None, email: str | None = None,
                       customer_ref: str | None = None, conversation_id: str | None = None
                       ) -> dict[str, Any]:
        """Crypto-shred every conversation of a subject, tombstone it and tell HQ."""
        subject = self._subject(phone, email, customer_ref)
        found = self._find(subject, conversation_id)
        ref = subject.primary_ref(self.ctx.subject_key) if subject else None
        sent = []
        for cid in sorted(found):
            if self._shred(actor, cid, status=DELETED, reason="subject_request"):
                sent.append(cid)
        notice = False
        if sent or (ref and found):
            notice = self._queue_notice(tuple(sent), "subject_request", ref)
        self._log(actor, "subject.delete", f"subject:{ref or conversation_id}",
                  conversations=len(found), notice_queued=notice)
        return {"subject_ref": ref, "deleted": sorted(found), "notice_queued": notice}

    def delete_conversation(self, actor: str, conversation_id: str) -> dict[str, Any]:
        """Crypto-shred one conversation at a person's request."""
        return self.delete_subject(actor, conversation_id=conversation_id)

    def purge(self, actor: str, conversation_id: str, *, reason: str) -> dict[str, Any]:
        """Purge for consent (``opt_out`` or ``consent_missing``): content goes, the ledger and
        a tombstone stay; HQ is told if it had the metadata."""
        sent = self._shred(actor, conversation_id, status=PURGED, reason=reason)
        notice = self._queue_notice((conversation_id,), reason, None) if sent else False
        return {"conversation_id": conversation_id, "status": PURGED, "notice_queued": notice}

    # -- holds -----------------------------------------------------------------------------

    def hold(self, actor: str, conversation_id: str, *, reason: str) -> None:
        self.conversations.set_status(conversation_id, HELD)
        self._log(actor, "conversation.hold", f"conversation:{conversation_id}", reason=reason)

    def release_hold(self, actor: str, conversation_id: str) -> dict[str, Any]:
        """A person confirms consent for a held conversation: it becomes visible and synced."""
        from gateway.store.consent import RELEASED
        from gateway.sync.metadata import conversation_envelope

        conversation = self._get(conversation_id)
        if conversation.status != HELD:
            raise CorrectionError(f"conversation {conversation_id} is not held")
        key = self._data_key(conversation)
        with transaction(self.db):  # no reader sees it released without its ledger record
            self.conversations.set_status(conversation_id, DONE)
            self.ledger.record(conversation_id, RELEASED, at=self.ctx.clock(), source="person",
                               policy=self.ctx.consent.jurisdiction,
                               disclosure_version=self.ctx.consent.disclosure_version)
        queued = False
        if self.ctx.upstream is not None:
            queued = self._queue(conversation_envelope(
                self._get(conversation_id), self.conversations.tags(conversation_id, key),
                gateway_id=self.ctx.gateway_id, duration_s=conversation.duration_s or 0.0,
                speech_s=conversation.speech_s or 0.0))
        self._log(actor, "conversation.release", f"conversation:{conversation_id}")
        return {"conversation_id": conversation_id, "status": DONE, "envelope_queued": queued}

    # -- corrections -----------------------------------------------------------------------

    def _tags(self, conversation_id: str) -> tuple[bytes, list[Tag]]:
        conversation = self._get(conversation_id)
        key = self._data_key(conversation)
        return key, self.conversations.tags(conversation_id, key)

    def correct_tag(self, actor: str, conversation_id: str, *, action: str,
                    index: int | None = None, tag: str | None = None,
                    start: float | None = None, end: float | None = None,
                    new_tag: str | None = None) -> dict[str, Any]:
        """``change`` tag ``index`` to ``new_tag``, ``remove`` it, or ``add`` ``tag`` over
        ``[start, end]``. Kept with who and when; HQ is told if it has the conversation."""
        check_actor(actor)
        key, tags = self._tags(conversation_id)
        if action in ("change", "remove"):
            if index is None or not 0 <= index < len(tags):
                raise CorrectionError(f"conversation {conversation_id} has no tag {index}")
            old = tags[index]
            if action == "change":
                if not new_tag or not TAG_PATTERN.fullmatch(new_tag):
                    raise CorrectionError("new_tag must be a tag name such as objection.price")
                tags[index] = Tag(new_tag, old.start, old.end, old.text, old.confidence)
            else:
                del tags[index]
            tag, start, end = old.tag, old.start, old.end
        elif action == "add":
            if not tag or not TAG_PATTERN.fullmatch(tag) or start is None or end is None \
                    or not 0 <= start <= end:
                raise CorrectionError("add needs a tag name and 0 <= start <= end")
            tags.append(Tag(tag, start, end, "", 1.0))
        else:
            raise CorrectionError("action must be add, remove or change")
        self.conversations.replace_tags(conversation_id, key, tags)
        now = self.ctx.clock()
        self.corrections.add(conversation_id, target=f"tag:{index if index is not None else ''}",
                             action=action, actor=actor, at=now, tag=tag, new_tag=new_tag,
                             start=start, end=end)
        queued = False
        if self._sent_upstream(conversation_id) and tag is not None:
            from gateway.sync.metadata import correction_envelope

            queued = self._queue(correction_envelope(Correction(
                conversation_id=conversation_id, gateway_id=self.ctx.gateway_id, tag=tag,
                action=action, start=round(start or 0.0, 3),  # type: ignore[arg-type]
                end=round(end or 0.0, 3), new_tag=new_tag if action == "change" else None,
                corrected_by=actor, corrected_at=now)))
        self._log(actor, "tag.correct", f"conversation:{conversation_id}", action=action,
                  tag=tag, new_tag=new_tag)
        return {"conversation_id": conversation_id, "action": action, "tag": tag,
                "new_tag": new_tag, "tags": len(tags), "envelope_queued": queued}

    def correct_segment(self, actor: str, conversation_id: str, *, index: int,
                        text: str) -> dict[str, Any]:
        """Replace a transcript segment's text (redacted like any transcript, then sealed)."""
        check_actor(actor)
        conversation = self._get(conversation_id)
        key = self._data_key(conversation)
        clean = redact(text).text
        if not self.conversations.replace_segment_text(conversation_id, key, index, clean):
            raise CorrectionError(f"conversation {conversation_id} has no segment {index}")
        self.corrections.add(conversation_id, target=f"segment:{index}", action="change",
                             actor=actor, at=self.ctx.clock())
        self._log(actor, "segment.correct", f"conversation:{conversation_id}", index=index)
        return {"conversation_id": conversation_id, "index": index, "text": clean}

