"""Retention: the pure plan, and sweeps over real files with a clock moved by hand."""

from __future__ import annotations

from pathlib import Path

from privacy_support import add_conversation, make_site

from gateway.privacy.retention import DAY_S, Facts, RetentionPolicy, Step, plan

POLICY = RetentionPolicy(raw_audio_days=0, transcript_days=90, tags_days=365, held_days=7,
                         audit_days=730, min_free_bytes=1000)
NOW = 1_900_000_000.0


def facts(cid: str, status: str, age_days: float, audio: int = 0, transcript: bool = True,
          tags: bool = True) -> Facts:
    return Facts(cid, status, NOW - age_days * DAY_S, audio, transcript, tags)


def test_each_data_class_expires_on_its_own_clock() -> None:
    items = [facts("fresh", "done", 1, audio=10), facts("t", "done", 91),
             facts("g", "expired", 366, transcript=False), facts("h", "held", 8),
             facts("h-new", "held", 6), facts("recv", "receiving", 400, audio=10),
             facts("q", "queued", 400, audio=10, transcript=False, tags=False)]
    result = plan(NOW, items, POLICY, free_bytes=10**9)
    assert set(result.steps) == {Step("drop_audio", "fresh"), Step("expire_transcript", "t"),
                                 Step("expire_tags", "g"), Step("purge_held", "h")}
    assert result.audit_cutoff == NOW - 730 * DAY_S and result.disk_short_bytes == 0


def test_raw_audio_kept_for_its_days_then_dropped() -> None:
    policy = RetentionPolicy(raw_audio_days=3, min_free_bytes=0)
    item = [facts("a", "done", 2, audio=10)]
    assert plan(NOW, item, policy, free_bytes=None).steps == ()
    assert plan(NOW + DAY_S, item, policy, free_bytes=None).steps == (Step("drop_audio", "a"),)


def test_below_the_disk_floor_oldest_transcribed_audio_goes_first() -> None:
    policy = RetentionPolicy(raw_audio_days=30, min_free_bytes=1000)
    items = [facts("new-done", "done", 1, audio=400), facts("old-done", "done", 5, audio=400),
             facts("old-queued", "queued", 9, audio=400), facts("live", "receiving", 9, 400)]
    steps = plan(NOW, items, policy, free_bytes=500).steps
    assert steps == (Step("drop_audio", "old-done", "disk"), Step("drop_audio", "new-done", "disk"))
    steps = plan(NOW, items, policy, free_bytes=100).steps
    assert [s.conversation_id for s in steps] == ["old-done", "new-done", "old-queued"]
    assert plan(NOW, items, policy, free_bytes=0).disk_short_bytes == 0
    assert plan(NOW, items[3:], policy, free_bytes=0).disk_short_bytes == 1000  # only live audio


def test_sweep_with_a_moved_clock(tmp_path: Path) -> None:
    site = make_site(tmp_path / "data")
    start = site.clock.now
    add_conversation(site, "c1", ["The zebra is fine, we record this call."], ended_at=start,
                     keep_audio=True)
    add_conversation(site, "held", ["No disclosure here."], ended_at=start, keep_audio=False)
    site.access.hold("system:consent", "held", reason="consent_missing")
    access, actor = site.access, "system:retention"

    result = access.sweep(actor, now=start + 60, free_bytes=10**12)
    assert result["steps"] == {"drop_audio": 1}  # raw audio goes once transcribed (0 days)
    assert not site.ctx.spool.path("c1").exists()

    result = access.sweep(actor, now=start + 8 * DAY_S, free_bytes=10**12)
    assert result["steps"] == {"purge_held": 1}
    assert access.conversations.get("held").status == "purged"
    assert not site.ctx.vault.has("held")

    access.sweep(actor, now=start + 89 * DAY_S, free_bytes=10**12)
    assert access.conversations.get("c1").status == "done"
    result = access.sweep(actor, now=start + 91 * DAY_S, free_bytes=10**12)
    assert result["steps"] == {"expire_transcript": 1}
    record = access.get_conversation("user:dpo", "c1")
    assert record["status"] == "expired" and record["content"] == "deleted"
    assert record["tags"] and "text" not in record["tags"][0]  # spans remain, evidence gone
    assert not site.ctx.vault.has("c1") and access.search("user:dpo", "zebra") == []

    result = access.sweep(actor, now=start + 366 * DAY_S, free_bytes=10**12)
    assert result["steps"] == {"expire_tags": 1}
    assert access.get_conversation("user:dpo", "c1")["tags"] == []
    assert access.sweep(actor, now=start + 367 * DAY_S, free_bytes=10**12)["steps"] == {}
    actions = [e["action"] for e in access.audit_entries("user:auditor", object="conversation:c1")]
    assert {"retention.drop_audio", "retention.expire_transcript",
            "retention.expire_tags"} <= set(actions)


def test_audit_entries_are_pruned_at_a_checkpoint(tmp_path: Path) -> None:
    site = make_site(tmp_path / "data")
    add_conversation(site, "c1", ["Hello."])
    access = site.access
    for _ in range(3):
        access.get_conversation("user:a", "c1")
    assert access.checkpoint() is not None
    site.clock.now += 800 * DAY_S
    access.get_conversation("user:a", "c1")
    result = access.sweep("system:retention", now=site.clock.now, free_bytes=10**12)
    assert result["audit_pruned"] == 3
    report = access.verify_audit("user:auditor")
    assert report["ok"], report["problems"]
    assert report["first_seq"] > 1


def test_the_service_retention_duty_deletes_expired_web_sessions(tmp_path: Path) -> None:
    import threading

    from gateway.accounts.sessions import Sessions
    from gateway.privacy.sweeper import duties, run_periodically

    site = make_site(tmp_path / "data")
    site.config.web.session_idle_minutes = 30
    db = site.access.db
    sessions = Sessions(db, clock=site.clock)
    abandoned = sessions.start(None, setup=True)[1].token_hash
    site.clock.now += 20 * 60
    recent = sessions.start(None, setup=True)[1].token_hash
    site.clock.now += 11 * 60  # the first is idle past 30 minutes, the second is not
    interval, duty = {name: (i, d) for name, i, d in duties(site.config)}["retention"]
    assert interval == site.config.retention.sweep_interval_s
    stopped = threading.Event()
    stopped.set()  # run_periodically runs its duty once more on the way out
    run_periodically(site.db_path, site.ctx, interval, duty, stopped)
    left = {row[0] for row in db.execute("SELECT token_hash FROM web_sessions")}
    assert left == {recent} and abandoned not in left
