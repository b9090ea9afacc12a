"""Tagger v2 (speaker scopes, trackers, sentiment) on new held-out utterances, and talk metrics."""

from __future__ import annotations

import csv
import resource
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from gateway.intel import Segment, TrackerError, annotate, parse_tracker
from gateway.intel.sentiment import label, score
from gateway.intel.talk import talk_metrics

# Speaker-tagged utterances. They arrived with the keyword rules, which had entries written for
# some of these rows (removed since), so they are tuning data, not a held-out set: the held-out
# evaluation is bench/tags.py on the test half of tests/data/tag-paraphrases.tsv. With the
# row-specific rules gone the rules alone reach macro precision 1.00, recall 0.75 here.
HELDOUT = Path(__file__).parent / "data" / "heldout-speakers.tsv"
MIN_PRECISION = 0.95
MIN_RECALL = 0.7
MIN_SENTIMENT_ACCURACY = 0.65


def rows() -> list[dict[str, str]]:
    with HELDOUT.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def macro(speakers_known: bool) -> tuple[float, float, int]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for row in rows():
        speaker = row["speaker"] if speakers_known else "unknown"
        found = {t.tag for t in annotate([Segment(0.0, 1.0, row["text"], speaker)]).tags}
        gold = {t for t in row["tags"].split(",") if t}
        tp.update(found & gold)
        fp.update(found - gold)
        fn.update(gold - found)
    tags = sorted(set(tp) | set(fp) | set(fn))
    precision = sum(tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0 for t in tags) / len(tags)
    recall = sum(tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0 for t in tags) / len(tags)
    return precision, recall, sum(fp.values())


def test_heldout_speaker_utterances_reach_the_floor() -> None:
    precision, recall, false_positives = macro(speakers_known=True)
    print(f"held-out speakers: macro P={precision:.3f} R={recall:.3f} fp={false_positives}")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL


def test_knowing_the_speaker_removes_false_positives() -> None:
    _, _, with_speakers = macro(speakers_known=True)
    _, _, without = macro(speakers_known=False)
    assert with_speakers < without


@pytest.mark.parametrize(
    ("text", "speaker", "tag", "expected"),
    [
        ("We got a quote from Tesla.", "customer", "competitor.mention", True),
        ("Unlike Tesla, we service our own systems.", "rep", "competitor.mention", False),
        ("Unlike Tesla, we service our own systems.", "unknown", "competitor.mention", True),
        ("That's way too expensive.", "rep", "objection.price", False),
        ("This conversation is being recorded.", "customer", "consent.disclosure", False),
        ("This conversation is being recorded.", "rep", "consent.disclosure", True),
        ("Do you offer financing?", "rep", "financing", True),
    ],
)
def test_tags_are_scoped_by_speaker(text: str, speaker: str, tag: str, expected: bool) -> None:
    found = {t.tag for t in annotate([Segment(0.0, 1.0, text, speaker)]).tags}
    assert (tag in found) == expected


def test_heldout_sentiment_accuracy() -> None:
    data = rows()
    right = sum(label(score(row["text"])) == row["sentiment"] for row in data)
    print(f"sentiment accuracy {right / len(data):.3f}")
    assert right / len(data) >= MIN_SENTIMENT_ACCURACY


def test_sentiment_reads_negation_and_but() -> None:
    assert score("That is not bad at all.") > 0 > score("That is bad.")
    assert score("I was worried at first, but this looks great.") > 0
    assert score("The roof faces south.") == 0.0
    assert label(score("We had a terrible experience with them.")) == "negative"


def test_trackers_fire_on_inflections_and_respect_their_speaker() -> None:
    trackers = ["warranty = warranty | guarantee", "price-match @customer = beat their price",
                "battery backup"]
    segments = [
        Segment(0.0, 1.0, "Is the inverter guaranteed for ten years?", "customer"),
        Segment(1.0, 2.0, "Can you beat their price?", "customer"),
        Segment(2.0, 3.0, "We can beat their price.", "rep"),
        Segment(3.0, 4.0, "Does it come with battery backups?", "customer"),
    ]
    tags = [(t.tag, t.start) for t in annotate(segments, trackers=trackers).tags
            if t.tag.startswith("tracker.")]
    assert tags == [("tracker.warranty", 0.0), ("tracker.price-match", 1.0),
                    ("tracker.battery-backup", 3.0)]


@pytest.mark.parametrize("spec", ["= nothing", "label @boss = thing", "   "])
def test_bad_tracker_definitions_are_errors(spec: str) -> None:
    with pytest.raises(TrackerError):
        parse_tracker(spec)


def test_talk_metrics_from_two_speakers() -> None:
    segments = [
        Segment(0.0, 10.0, "Thanks for having me. Shall we start?", "rep"),
        Segment(11.0, 20.0, "Sure. What does it cost?", "rep"),
        Segment(19.0, 25.0, "How long does it take?", "customer"),  # starts over the rep
        Segment(26.0, 30.0, "About two days.", "rep"),
    ]
    talk = talk_metrics(segments)
    assert talk.known
    assert talk.talk_s == {"rep": 23.0, "customer": 6.0}
    assert talk.rep_talk_ratio == pytest.approx(23 / 29, abs=1e-3)
    assert (talk.longest_monologue_speaker, talk.longest_monologue_s) == ("rep", 20.0)
    assert talk.questions == {"rep": 2, "customer": 1}
    assert talk.interruptions == {"rep": 0, "customer": 1}


def test_single_channel_talk_is_unknown() -> None:
    talk = talk_metrics([Segment(0.0, 2.0, "Hello?")], speakers_known=False)
    assert not talk.known and talk.rep_talk_ratio is None and talk.questions == {}
    assert not talk_metrics([Segment(0.0, 2.0, "Hello?", "unknown")]).known


def test_annotate_is_light_enough_for_a_pi() -> None:
    texts = [row["text"] for row in rows()] * 10
    segments = [Segment(float(i), i + 1.0, f"{t} {i}", "customer") for i, t in enumerate(texts)]
    trackers = ["warranty = warranty | guarantee", "battery"]
    started = time.perf_counter()
    annotate(segments, trackers=trackers)
    per_segment = (time.perf_counter() - started) / len(segments)
    tracemalloc.start()
    annotate([Segment(s.start, s.end, s.text + " again", s.speaker) for s in segments],
             trackers=trackers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"annotate: {per_segment * 1e6:.0f} us per segment, peak {peak / 1e6:.2f} MB "
          f"for {len(segments)} segments, process RSS {rss_mb:.0f} MB")
    assert per_segment < 0.005
    assert peak < 20e6
