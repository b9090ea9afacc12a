"""Consent end to end: the policy (pure); opt-out by phrase, disclosure, all-party hold and purge
through real espeak-ng speech, the real recorder, whisper.cpp and the transcription worker; and
opt-out by the badge button over a real Mosquitto with the badge simulator."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Broker, synthesize, wait_for
from privacy_support import Site, make_site

from gateway.intel.types import Tag
from gateway.privacy.consent import ConsentPolicy, review
from gateway.privacy.retention import DAY_S
from gateway.protocol.assembler import Chunk, Finished, Started
from gateway.protocol.frames import Codec

ALL_PARTY = ConsentPolicy("all_party", 30.0, "hold", "v2", 0.8)


def tag(name: str, start: float, confidence: float = 0.9) -> Tag:
    return Tag(name, start, start + 2, "words", confidence)


def test_policy_decisions() -> None:
    disclosure, late = tag("consent.disclosure", 3), tag("consent.disclosure", 45)
    opt_out = tag("consent.opt_out", 20)
    assert review([disclosure], declared=False, policy=ALL_PARTY).outcome == "keep"
    assert review([late], declared=False, policy=ALL_PARTY).reason == "consent_missing"
    assert review([], declared=True, policy=ALL_PARTY).reason == "declared"
    assert review([tag("consent.disclosure", 3, 0.4)], declared=False,
                  policy=ALL_PARTY).outcome == "hold"  # a weak match is no disclosure
    purge = ConsentPolicy("all_party", 30.0, "purge")
    assert review([], declared=False, policy=purge).outcome == "purge"
    one_party = ConsentPolicy("one_party")
    assert review([], declared=False, policy=one_party).outcome == "keep"
    for policy in (ALL_PARTY, one_party):  # an opt-out wins over everything
        verdict = review([disclosure, opt_out], declared=True, policy=policy)
        assert (verdict.outcome, verdict.reason) == ("purge", "opt_out")
        assert verdict.opt_out is not None and verdict.opt_out.offset_s == 20


# -- speech through the real pipeline ----------------------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from gateway.speech.audio import load_audio

    folder = tmp_path_factory.mktemp("speech")
    texts = {
        "opt_out": "Please stop recording this conversation right now.",
        "plain": "Hi there. The new model comes in blue and in green.",
        "disclosed": "Just so you know, this conversation is being recorded.",
    }
    pcm = {}
    for name, text in texts.items():
        audio = load_audio(synthesize(text, folder / f"{name}.wav"))
        samples = np.concatenate([np.zeros(8000, dtype=np.float32), audio.samples])
        pcm[name] = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return pcm


@pytest.fixture
def speech_site(tmp_path: Path,
                model_path: Path) -> Iterator[tuple[Site, Callable[..., tuple[str, str]]]]:
    from gateway.ingest.recorder import Recorder
    from gateway.speech.factory import build_pipeline
    from gateway.store.jobs import JobQueue
    from gateway.worker import TranscriptionWorker

    site = make_site(tmp_path / "data")
    site.ctx.consent = ALL_PARTY
    site.config.speech.model_path = str(model_path)
    site.config.speech.threads = 2
    worker = TranscriptionWorker(db_path=site.db_path, privacy=site.ctx,
                                 pipeline=build_pipeline(site.config), upstream=None,
                                 keep_raw_audio=False, poll_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    recorder = Recorder(site="s1", keys=site.ctx.keys, conversations=site.access.conversations,
                        jobs=JobQueue(site.access.db), spool=site.ctx.spool,
                        vault=site.ctx.vault)

    def record(pcm: bytes, *, declared: bool = False) -> tuple[str, str]:
        """Record one conversation through the worker; returns its id and final status."""
        sid = uuid.uuid4().hex
        events = [Started("b1", sid, "rep-1", time.time(), Codec.PCM16, 16000, 1, None,
                          declared)]
        size = 3200
        events += [Chunk("b1", sid, n, n * 100, pcm[i:i + size])
                   for n, i in enumerate(range(0, len(pcm), size))]
        events.append(Finished("b1", sid, "final", len(events) - 1, 0, 0))
        recorder.handle(events)
        recorder.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = site.access.conversations.get(sid).status
            if status not in ("queued", "transcribing", "receiving"):
                return sid, status
            time.sleep(0.05)
        raise AssertionError("transcription did not finish")

    yield site, record
    stop.set()
    thread.join(10)
    recorder.close()


def _ledger(site: Site, sid: str) -> list[tuple[str, str]]:
    return [(e.kind, e.source) for e in site.access.ledger.events(sid)]


@pytest.mark.slow
def test_consent_through_real_speech(speech_site: tuple[Site, Callable[..., tuple[str, str]]],
                                     clips: dict[str, bytes]) -> None:
    site, record = speech_site
    access = site.access

    # the customer asks to stop: purged, with a minimal ledger record and no content left
    sid, status = record(clips["opt_out"])
    assert status == "purged"
    assert ("opt_out", "phrase") in _ledger(site, sid) and ("purged", "policy") in _ledger(
        site, sid)
    assert not site.ctx.vault.has(sid) and not site.ctx.spool.path(sid).exists()
    assert access.db.execute("SELECT count(*) FROM segments WHERE conversation_id = ?",
                             [sid]).fetchone()[0] == 0
    assert access.get_conversation("user:dpo", sid)["tombstone"]["reason"] == "opt_out"

    # a disclosure in time: kept, with when and which words in the ledger
    sid, status = record(clips["disclosed"])
    assert status == "done"
    consent = access.get_conversation("user:dpo", sid)["consent"]
    assert consent[0]["kind"] == "disclosure_detected" and consent[0]["offset_s"] < 30
    assert "record" in consent[0]["words"].lower() and consent[0]["disclosure_version"] == "v2"

    # all-party, nothing disclosed: held (not searchable, not synced), purged after held_days
    held, status = record(clips["plain"])
    assert status == "held"
    assert ("held", "policy") in _ledger(site, held)
    assert access.search("user:dpo", "green") == []
    result = access.sweep("system:retention", now=time.time() + 8 * DAY_S, free_bytes=10**12)
    assert result["steps"].get("purge_held") == 1
    assert access.conversations.get(held).status == "purged"

    # declared on the badge: kept without a spoken disclosure
    assert record(clips["plain"], declared=True)[1] == "done"

    # all-party with the purge action: gone at once
    site.ctx.consent = ConsentPolicy("all_party", 30.0, "purge")
    assert record(clips["plain"])[1] == "purged"
    # one-party: kept
    site.ctx.consent = ConsentPolicy("one_party")
    assert record(clips["plain"])[1] == "done"
    assert access.verify_audit("user:auditor")["ok"]


# -- the badge button over a real broker -------------------------------------------------------

@pytest.mark.slow
def test_opt_out_by_button_stops_and_purges_within_seconds(tmp_path: Path,
                                                           mosquitto: Broker) -> None:
    from gateway.ingest.badge_sim import BadgeSimulator
    from gateway.ingest.runner import run_ingest

    site = make_site(tmp_path / "data")
    site.config.site.id = "store-9"
    site.config.broker.port = mosquitto.port
    site.config.broker.client_id = "gw-privacy-test"
    stop = threading.Event()
    ingest = threading.Thread(target=run_ingest, args=(
        site.config, site.db_path, site.ctx.keys, site.ctx.spool, stop),
        kwargs={"privacy": site.ctx}, daemon=True)
    ingest.start()
    badge = BadgeSimulator(host=mosquitto.host, port=mosquitto.port, site="store-9",
                           badge_id="b-7")
    try:
        badge.wait_for_gateway(10)
        sid = uuid.uuid4().hex
        samples = (np.sin(np.arange(16000 * 6) * 0.05) * 0.3).astype(np.float32)
        result: dict[str, object] = {}
        streaming = threading.Thread(target=lambda: result.update(
            r=badge.stream(samples, rep_id="rep-1", session_id=sid)), daemon=True)
        streaming.start()
        conversations = site.access.conversations

        def stored_frames() -> int:
            progress = badge.progress(sid)
            return 0 if progress is None or progress.acked_seq is None else progress.acked_seq + 1

        wait_for(lambda: stored_frames() >= 10, 20, "a second of audio stored and acked")
        assert conversations.exists(sid) and site.ctx.spool.path(sid).exists()
        pressed = time.monotonic()
        badge.opt_out(sid)
        while conversations.get(sid).status != "purged":
            assert time.monotonic() - pressed < 5, "not purged within seconds"
            time.sleep(0.02)
        purged_after = time.monotonic() - pressed
        streaming.join(15)
        assert not streaming.is_alive(), "the badge was not told to stop"
        sim = result["r"]
        assert sim.seconds < 5  # type: ignore[attr-defined]  # of 6 s: it stopped early
    finally:
        badge.close()
        stop.set()
        ingest.join(10)
    assert not ingest.is_alive()  # it handled every frame it will ever see
    assert purged_after < 5
    assert not site.ctx.spool.path(sid).exists() and not site.ctx.vault.has(sid)
    assert conversations.get(sid).status == "purged"  # late frames did not revive it
    assert [k for k, _ in _ledger(site, sid)] == ["opt_out", "purged"]
    assert ("button" in {s for _, s in _ledger(site, sid)})
    from gateway.store.db import open_db
    from gateway.store.jobs import JobQueue

    db = open_db(site.db_path)
    assert JobQueue(db).pending(sid) == []
    db.close()
    actors = {e["actor"] for e in site.access.audit_entries("user:auditor",
                                                            object=f"conversation:{sid}")}
    assert "badge:b-7" in actors
