"""Administration through the access layer: the audit log, key rotation, retention steps and
configuration changes. Every act is audited like any other access."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from gateway.accounts.users import Users
from gateway.crypto.datakeys import commit_rotation, stage_rotation
from gateway.crypto.errors import CryptoError
from gateway.privacy.audit import sign_checkpoint, verify
from gateway.privacy.base import AccessBase
from gateway.privacy.errors import PrivacyError
from gateway.privacy.retention import Facts, Plan, Step, plan
from gateway.store.conversations import FAILED, QUEUED
from gateway.store.db import transaction
from gateway.store.erasure import CONTENT_GONE, EXPIRED, PURGED

log = logging.getLogger(__name__)


class Administration(AccessBase):
    """Audit log, keys, retention and configuration (mixed into the AccessLayer)."""

    # -- audit log -------------------------------------------------------------------------

    def record_event(self, actor: str, action: str, object: str, /, **detail: Any) -> None:
        """Audit an act a face carries out itself (sign-ins, accounts, setup, settings,
        badges); ``detail`` never holds content."""
        self._log(actor, action, object[:200], **detail)

    # -- web UI accounts from the console ------------------------------------------------

    def reset_password(self, actor: str, username: str, password: str) -> None:
        """Set a new password, unlock the account and end its sessions; audited with it."""
        with transaction(self.db):
            user = Users(self.db).set_password(username, password)
            self._log(actor, "user.password_reset", f"user:{user.username}")

    def add_user(self, actor: str, username: str, password: str, role: str) -> None:
        """Create a web UI account; audited with it."""
        with transaction(self.db):
            user = Users(self.db).create(username, password, role)
            self._log(actor, "user.create", f"user:{user.username}", role=role)

    def audit_entries(self, actor: str, *, since_seq: int = 0, limit: int = 100,
                      object: str | None = None, newest_first: bool = False,
                      contains: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Audit entries: all of one ``object``, else after ``since_seq`` (oldest first unless
        ``newest_first``) whose actor, action and object contain the ``contains`` texts
        (case-insensitive). The read is audited with the filtered fields, not their text."""
        wanted = {k: v for k, v in (contains or {}).items() if v}
        entries = (self.audit.for_object(object) if object else
                   self.audit.entries(since_seq=since_seq, limit=limit,
                                      newest_first=newest_first, contains=wanted))
        self._log_read(actor, "audit.read", object or "audit", content=False,
                       count=len(entries), **({"filtered": sorted(wanted)} if wanted else {}))
        return [asdict(e) for e in entries]

    def verify_audit(self, actor: str) -> dict[str, Any]:
        """Check the hash chain and every signed checkpoint; the result is audited too."""
        report = verify(self.audit.entries(), self.audit.checkpoints(), self.ctx.signer)
        result = {"ok": report.ok, "entries": report.entries, "first_seq": report.first_seq,
                  "last_seq": report.last_seq, "checkpoints": report.checkpoints,
                  "head_hash": report.head_hash, "problems": report.problems}
        self._log_read(actor, "audit.verify", "audit", content=False, ok=report.ok,
                       entries=report.entries, problems=len(report.problems))
        return result

    def checkpoint(self, actor: str | None = None) -> dict[str, Any] | None:
        """Sign the log's head if it moved, and queue the checkpoint for HQ. The timer's
        checkpoints are not audited (the checkpoint itself is the record); a person's request
        (``actor``) is, as ``audit.checkpoint``, and the checkpoint covers that entry."""
        from gateway.sync.metadata import audit_checkpoint_envelope

        if actor is not None:
            self._log(actor, "audit.checkpoint", "audit")
        cp = sign_checkpoint(self.audit, self.ctx.identity, now=self.ctx.clock())
        if cp is None:
            return None
        queued = self._queue(audit_checkpoint_envelope(cp))
        return {"seq": cp.seq, "entries": cp.entries, "head_hash": cp.head_hash, "at": cp.at,
                "queued": queued}

    # -- keys ------------------------------------------------------------------------------

    def rotate_keys(self, actor: str) -> dict[str, Any]:
        """Re-wrap every data key under a new KEK generation; content is not re-encrypted.

        The old KEK file is replaced; keys wrapped meanwhile by a running gateway under the
        old generation are caught by a second pass before it is forgotten.
        """
        path = self.ctx.kek_path
        if path is None:
            raise PrivacyError("the KEK file is not known to this process")
        vault = self.ctx.vault
        try:
            target = stage_rotation(path)
        except (OSError, CryptoError) as exc:
            raise PrivacyError(f"cannot stage a new KEK beside {path}: {exc}") from exc
        vault.keys.refresh()
        count = vault.rewrap(target)
        commit_rotation(path)
        count += vault.rewrap(target)
        vault.keys.refresh()
        self._log(actor, "keys.rotate", "kek", generation=target.generation, rewrapped=count)
        log.info("KEK rotated to generation %d; %d data keys re-wrapped", target.generation,
                 count)
        return {"generation": target.generation, "rewrapped": count,
                "keys": sum(vault.generations().values())}

    # -- retention -------------------------------------------------------------------------

    def retention_facts(self) -> list[Facts]:
        """What retention needs to know of every conversation whose content is not deleted."""
        gone = sorted(CONTENT_GONE - {EXPIRED})
        rows = self.db.execute(
            "SELECT c.id, c.status, coalesce(c.ended_at, c.received_at), "
            "EXISTS (SELECT 1 FROM segments s WHERE s.conversation_id = c.id), "
            "EXISTS (SELECT 1 FROM tags t WHERE t.conversation_id = c.id) "
            "FROM conversations c WHERE c.status NOT IN (?, ?)", gone).fetchall()
        facts = []
        for cid, status, ended_at, has_segments, has_tags in rows:
            path = self.ctx.spool.path(cid)
            size = path.stat().st_size if path.exists() else 0
            facts.append(Facts(cid, status, float(ended_at), size, bool(has_segments),
                               bool(has_tags)))
        return facts

    def retention_plan(self, *, now: float | None = None,
                       free_bytes: int | None = None) -> Plan:
        now = self.ctx.clock() if now is None else now
        free = self.ctx.free_bytes() if free_bytes is None else free_bytes
        return plan(now, self.retention_facts(), self.ctx.retention, free_bytes=free)

    def apply_retention(self, actor: str, step: Step) -> None:
        """Carry out one retention step (audited)."""
        cid = step.conversation_id
        obj = f"conversation:{cid}"
        if step.action == "purge_held":
            sent = self._shred(actor, cid, status=PURGED, reason="consent_missing")
            if sent:
                self._queue_notice((cid,), "consent_missing", None)
        elif step.action == "drop_audio":
            self.ctx.spool.delete(cid)
            if self._get(cid).status == QUEUED:
                self.conversations.set_status(
                    cid, FAILED, "raw audio deleted: disk below the free-space floor")
            self._log(actor, "retention.drop_audio", obj, why=step.why)
        elif step.action == "expire_transcript":
            self.ctx.vault.destroy(cid)
            self.ctx.spool.delete(cid)
            self.erasure.erase_transcript(cid, actor=actor, at=self.ctx.clock())
            self._log(actor, "retention.expire_transcript", obj)
        elif step.action == "expire_tags":
            self.erasure.erase_tags(cid)
            if self._sent_upstream(cid):
                self._queue_notice((cid,), "retention", None)
            self._log(actor, "retention.expire_tags", obj)

    def sweep(self, actor: str, *, now: float | None = None,
              free_bytes: int | None = None) -> dict[str, Any]:
        """One retention sweep: plan from facts, then apply each step; returns what was done."""
        result = self.retention_plan(now=now, free_bytes=free_bytes)
        done: dict[str, int] = {}
        for step in result.steps:
            try:
                self.apply_retention(actor, step)
            except PrivacyError as exc:
                log.warning("retention step %s for %s failed: %s", step.action,
                            step.conversation_id, exc)
                continue
            done[step.action] = done.get(step.action, 0) + 1
        pruned = 0
        if result.audit_cutoff is not None:
            pruned = self.audit.prune_before(result.audit_cutoff)
            if pruned:
                self._log(actor, "audit.prune", "audit", removed=pruned)
        if result.disk_short_bytes:
            log.warning("data disk stays %d MiB below the free-space floor after deleting "
                        "raw audio", result.disk_short_bytes // (1024 * 1024))
        return {"steps": done, "audit_pruned": pruned,
                "disk_short_bytes": result.disk_short_bytes}

    # -- configuration -------------------------------------------------------------------

    def record_config_change(self, actor: str, changes: Mapping[str, tuple[Any, Any]]) -> None:
        """Audit config changes made elsewhere: ``{"section.key": (old, new)}``."""
        for key, (old, new) in sorted(changes.items()):
            self._log(actor, "config.change", f"config:{key}", old=old, new=new)

    def update_config(self, actor: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and keep changes on this gateway (``{"section.key": value}``); they
        override the config file (see gateway.local_settings)."""
        from gateway.local_settings import change_settings, effective_config

        _, before = change_settings(effective_config(self.ctx.config_path), changes)
        self.record_config_change(actor, {k: (before[k], v) for k, v in changes.items()})
        return {"changed": sorted(changes)}
