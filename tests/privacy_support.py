"""Builders for privacy tests: a data directory with real keys, database, vault and spool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.config import Config
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.identity import GatewayIdentity
from gateway.intel import annotate
from gateway.intel.types import Segment
from gateway.privacy.access import AccessLayer
from gateway.privacy.consent import Verdict
from gateway.privacy.context import PrivacyContext, open_privacy
from gateway.privacy.gate import TranscriptGate
from gateway.privacy.ingest import IngestPrivacy
from gateway.store.db import open_db


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    root: Path
    config: Config
    ctx: PrivacyContext
    access: AccessLayer
    clock: Clock

    @property
    def db_path(self) -> Path:
        return self.root / "gateway.db"


def make_site(root: Path, config: Config | None = None) -> Site:
    """Keys, signing identity, database and privacy context under ``root`` (a data dir)."""
    config = config or Config()
    config.paths.data_dir = str(root)
    config.site.gateway_id = "gw-test"
    keys = root / "keys"
    KeyStore.create(keys / "kek.key")
    identity = GatewayIdentity.load_or_create(keys / "gateway-signing.key", "gw-test")
    identity.export_public(keys / "gateway-signing.pub")
    clock = Clock()
    ctx = open_privacy(config, keys_dir=keys, kek_path=keys / "kek.key",
                       signing_key=keys / "gateway-signing.key",
                       signing_public=keys / "gateway-signing.pub", spool_dir=root / "spool",
                       clock=clock)
    db = open_db(root / "gateway.db")
    return Site(root, config, ctx, AccessLayer(db, ctx), clock)


def add_conversation(site: Site, cid: str, lines: Sequence[str], *, ended_at: float | None = None,
                     customer_ref: str | None = None, audio: bytes = b"\x01\x02" * 800,
                     keep_audio: bool = False) -> None:
    """A transcribed conversation stored the way ingest and the worker store one."""
    access = site.access
    data_key = site.ctx.vault.create(cid)
    access.conversations.create(id=cid, badge_id="b1", rep_id="rep-1", site="s1",
                                started_at=(ended_at or site.clock.now) - 60, codec=1,
                                sample_rate=16000, channels=1, wrapped_key=None)
    writer = site.ctx.spool.writer(cid, data_key)
    writer.append(audio)
    writer.close()
    access.conversations.finish(cid, ended_at=ended_at or site.clock.now, reason="final",
                                duplicates=0, gaps=0)
    IngestPrivacy(access).session_started(cid, customer_ref=customer_ref,
                                          consent_declared=False, at=site.clock.now)
    segments = [Segment(i * 5.0, i * 5.0 + 4.0, text) for i, text in enumerate(lines)]
    note = annotate(segments)
    gate = TranscriptGate(access)
    conversation = access.conversations.get(cid)
    gate.save_transcript(conversation, segments=note.segments, tags=note.tags,
                         duration_s=len(lines) * 5.0, speech_s=len(lines) * 4.0)
    gate.settle(conversation, Verdict("keep", "test"), note.identifiers)
    if not keep_audio:
        site.ctx.spool.delete(cid)
