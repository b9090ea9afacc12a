"""The semantic tagger: its pinned model (checked against a numpy reference), the fallback to
the rules, its quality on the development set and the tuning half, trackers from examples, and
the ``tag`` command."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from bert_reference import encode, read_safetensors

from gateway.config import ConfigError, parse_config
from gateway.intel import Segment, SemanticTagger, TrackerError, annotate, parse_tracker
from gateway.intel import semantic as semantic_module
from gateway.intel.lexicon import DEFAULT_COMPETITORS
from gateway.intel.semantic import (
    Example,
    background_weights,
    builtin_examples,
    clauses,
    distinct_heard,
    fit,
    read_examples,
    train_head,
)
from gateway.intel.tagger import classify as rule_tags
from gateway.semantic import adapter, catalogue, loader
from gateway.semantic.embedder import Embedder, unit, windows
from gateway.semantic.loader import load_tagger
from gateway.semantic.preview import preview, score_texts

ROOT = Path(__file__).parents[1]
DEV = ROOT / "../shared/data/dev-utterances.tsv"
PARAPHRASES = ROOT / "tests/data/tag-paraphrases.tsv"
VALIDATION = ROOT / "tests/data/tag-validation.tsv"
TAXONOMY = ("buying_signal", "competitor.mention", "consent.disclosure", "consent.opt_out",
            "financing", "next_step", "objection.authority", "objection.price",
            "objection.timing", "objection.trust")
SENTENCES = [
    "Just so you know, this visit is being recorded.",
    "We recorded a lot of rain last spring.",
    "Could we spread the payments out over a few years?",
    "Hi there!",
]
# Measured on 2026-12-04 (semantic tagger, speakers known): dev set micro precision 1.00 and
# recall 1.00 (the dev rows are not among the examples); floors leave room for one or two misses.
DEV_MIN_PRECISION = 0.95
DEV_MIN_RECALL = 0.95
# The tuning half's rows are among the tagger's examples, so this only checks that the head
# learned them (measured 0.97 micro F1 with the rules on top).
TUNE_MIN_F1 = 0.93
# The validation set was written from the taxonomy alone; tagged by a head trained without the
# examples that are one of its sentences, measured 0.947 micro F1 here on 2026-12-04 (0.944 in
# bench/tags_cv.py, which tags in other batches).
VALIDATION_MIN_F1 = 0.92


def rows(path: Path, split: str | None = None) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        found = list(csv.DictReader(handle, delimiter="\t"))
    return [r for r in found if split is None or r["split"] == split]


def micro(data: list[dict[str, str]], tagger: SemanticTagger | None) -> tuple[float, float]:
    """Micro precision and recall of the taxonomy's non-PII tags over labelled rows."""
    tp = fp = fn = 0
    segments = [Segment(i * 10.0, i * 10.0 + 1, r["text"], r["speaker"])
                for i, r in enumerate(data)]
    found: list[set[str]] = [set() for _ in data]
    for tag in annotate(segments, tagger=tagger).tags:
        found[round(tag.start / 10)].add(tag.tag)
    for row, tags in zip(data, found, strict=True):
        gold = {t for t in row["tags"].replace(",", ";").split(";") if t}
        tags = {t for t in tags if not t.startswith("pii.")}
        gold = {t for t in gold if not t.startswith("pii.")}
        tp, fp, fn = tp + len(tags & gold), fp + len(tags - gold), fn + len(gold - tags)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


# --- the model ------------------------------------------------------------------------------


def test_int8_graph_is_close_to_a_numpy_forward_pass_of_the_adapted_weights(
    text_models: Path,
) -> None:
    entry = catalogue.CATALOGUE["minilm"]
    original = read_safetensors(catalogue.read_weights_file(entry, "model.safetensors"))
    weights = adapter.merge(original, adapter.read(catalogue.read_adapter(entry)))
    embedder = Embedder.load(text_models)
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(text_models / "minilm" / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128 tokens; the reference takes the real ones
    vectors = embedder(SENTENCES)
    cosines = [float(vector @ encode(tokenizer.encode(sentence).ids, weights))
               for sentence, vector in zip(SENTENCES, vectors, strict=True)]
    print("cosines int8 vs float32 reference:", [round(c, 4) for c in cosines])
    # int8 weights (per channel) cost a little: measured 0.981 ("Hi!") to 0.995, mean 0.99
    assert sum(cosines) / len(cosines) > 0.985 and min(cosines) > 0.97
    assert float(vectors[0] @ vectors[1]) < float(vectors[0] @ vectors[0]) - 0.3
    untuned = [float(vector @ encode(tokenizer.encode(sentence).ids, original))
               for sentence, vector in zip(SENTENCES, vectors, strict=True)]
    assert max(untuned) < 0.95  # the adapter is in the graph


def test_install_is_pinned_and_a_damaged_file_is_refused(tmp_path: Path) -> None:
    model = catalogue.install(tmp_path)
    assert catalogue.installed(tmp_path) == ["minilm"]
    assert catalogue.verify(tmp_path) == [("minilm", True)]
    assert catalogue.install(tmp_path) == model  # again: kept as it is
    data = bytearray(model.onnx.read_bytes())
    data[1000] ^= 0xFF
    model.onnx.write_bytes(bytes(data))
    assert catalogue.verify(tmp_path) == [("minilm", False)]
    with pytest.raises(catalogue.TextModelError, match="models install minilm"):
        catalogue.resolve(tmp_path)


def test_the_pin_was_built_with_the_installed_onnx_and_onnxruntime() -> None:
    """The graph's bytes carry onnxruntime's version: an install rebuilds the pin only with the
    versions it was built with."""
    entry = catalogue.CATALOGUE["minilm"]
    installed = {name: importlib.metadata.version(name) for name, _ in entry.built_with}
    assert installed == dict(entry.built_with)


def test_a_graph_that_misses_its_pin_says_what_to_do(tmp_path: Path) -> None:
    entry = catalogue.CATALOGUE["minilm"]
    (onnx, onnx_pin), (ort, ort_pin) = entry.built_with
    older = catalogue.build_mismatch(entry, "0" * 64, tmp_path, {onnx: onnx_pin, ort: "1.0.0"})
    assert f"{ort} 1.0.0 (the pin's is {ort_pin})" in older
    assert f"pip install {onnx}=={onnx_pin} {ort}=={ort_pin}" in older
    assert f"{onnx} {onnx_pin} (" not in older  # only what differs is named
    assert f"models install minilm --models-dir {tmp_path}" in older
    same = catalogue.build_mismatch(entry, "0" * 64, tmp_path, dict(entry.built_with))
    assert "the build differs on this machine" in same and "copy minilm/" in same


def test_without_the_model_the_rules_tag_alone_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_tagger(tmp_path / "empty") is None
    assert "keyword rules alone" in caplog.text and "models install minilm" in caplog.text
    tags = annotate([Segment(0, 1, "This conversation is being recorded.", "rep")]).tags
    assert [t.tag for t in tags] == ["consent.disclosure"]


def test_the_trained_head_is_kept_beside_the_model_and_trained_again_when_its_settings_change(
    text_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    shutil.copytree(text_models, models)
    folder = models / catalogue.DEFAULT
    for kept in folder.glob("head-*.npz"):
        kept.unlink()
    few = builtin_examples()[::8]  # keeping and keying a head do not need every example
    monkeypatch.setattr(loader, "builtin_examples", lambda: few)
    monkeypatch.setattr(loader, "each_builtin_example", lambda: iter(few))
    sentence = "Could we spread the payments out over a few years?"
    trained = load_tagger(models)
    assert trained is not None
    first = sorted(folder.glob("head-*.npz"))
    assert len(first) == 1
    load_tagger.cache_clear()
    reloaded = load_tagger(models)
    assert reloaded is not None and reloaded is not trained
    assert sorted(folder.glob("head-*.npz")) == first
    np.testing.assert_array_equal(reloaded.head.labels, trained.head.labels)
    assert reloaded.head.neighbours == trained.head.neighbours == semantic_module.NEIGHBOUR_WEIGHT
    vector = trained.embed([sentence])
    np.testing.assert_allclose(reloaded.head.probabilities(vector, [sentence]),
                               trained.head.probabilities(vector, [sentence]), atol=1e-6)
    assert reloaded.head.spelling is not None and trained.head.spelling is not None
    np.testing.assert_array_equal(reloaded.head.spelling.weights, trained.head.spelling.weights)
    assert reloaded.head.spelling_share == semantic_module.SPELLING_WEIGHT > 0
    monkeypatch.setattr(semantic_module, "NEIGHBOUR_WEIGHT", 0.2)
    load_tagger.cache_clear()
    retrained = load_tagger(models)
    assert retrained is not None and retrained.head.neighbours == 0.2
    second = sorted(folder.glob("head-*.npz"))
    assert len(second) == 1 and second != first  # the stale head is gone
    load_tagger.cache_clear()


# --- quality --------------------------------------------------------------------------------


def test_development_set(semantic_tagger: SemanticTagger) -> None:
    precision, recall = micro(rows(DEV), semantic_tagger)
    print(f"dev: micro P={precision:.3f} R={recall:.3f}")
    assert precision >= DEV_MIN_PRECISION and recall >= DEV_MIN_RECALL


def test_tuning_half_of_the_paraphrases(semantic_tagger: SemanticTagger) -> None:
    precision, recall = micro(rows(PARAPHRASES, "tune"), semantic_tagger)
    f1 = 2 * precision * recall / (precision + recall)
    print(f"tune: micro P={precision:.3f} R={recall:.3f} F1={f1:.3f}")
    assert f1 >= TUNE_MIN_F1


def test_validation_set_written_from_the_taxonomy(semantic_tagger: SemanticTagger) -> None:
    data = rows(VALIDATION)
    assert list(data[0]) == list(rows(PARAPHRASES)[0])  # the same columns
    counts = Counter(t for r in data for t in r["tags"].split(";") if t)
    assert set(counts) == set(TAXONOMY) and min(counts.values()) >= 12
    assert sum(1 for r in data if not r["tags"]) >= 40
    texts = {r["text"] for r in data}
    unseen = fit(semantic_tagger.embed, [e for e in builtin_examples()
                                         if e.text not in texts and e.source not in texts])
    precision, recall = micro(data, SemanticTagger(semantic_tagger.embed, head=unseen))
    f1 = 2 * precision * recall / (precision + recall)
    print(f"validation: micro P={precision:.3f} R={recall:.3f} F1={f1:.3f}")
    assert f1 >= VALIDATION_MIN_F1


@pytest.mark.parametrize(
    ("text", "speaker", "tag"),
    [
        ("Hey, just a heads up that my lanyard thing keeps an audio copy of our chat.", "rep",
         "consent.disclosure"),
        ("We recorded a lot of rain last spring.", "customer", None),
        ("If we decide to do this, what would happen after that?", "customer", "buying_signal"),
        ("Why don't I swing by again on Monday with the final drawings?", "rep", "next_step"),
        ("Our co-op board has to okay anything on the roof.", "customer", "objection.authority"),
        ("I don't really trust you guys.", "customer", "objection.trust"),
        ("Yikes. Pricey.", "customer", "objection.price"),
        ("We've stuck with our current alarm company for a decade and they're fine.", "customer",
         "competitor.mention"),
        ("Could we pay it off a bit each month?", "customer", "financing"),
        ("Maybe after tax season, not before.", "customer", "objection.timing"),
        ("Hmm, I'd want to see some proof before I believe a word of that.", "customer",
         "objection.trust"),
        ("We stopped at Walmart for milk on the way back.", "customer", None),  # a shop visited
        ("Around five years or so.", "customer", None),  # a span of time, no stall
        ("My uncle admired Henry Ford.", "customer", None),
        ("Could you close the gate behind you?", "customer", None),  # a request, not about audio
    ],
)
def test_paraphrases_nobody_wrote_a_rule_for(
    semantic_tagger: SemanticTagger, text: str, speaker: str, tag: str | None
) -> None:
    found = {t.tag for t in annotate([Segment(0, 1, text, speaker)], tagger=semantic_tagger).tags}
    assert found == ({tag} if tag else set())


def test_clauses_are_cut_at_sentence_ends_and_at_a_comma_before_but_and_or_so() -> None:
    assert clauses("It looks great. My husband decides, though.") == [
        "It looks great.", "My husband decides"]  # "though." alone is one word
    assert clauses("I like it, but the price is steep; can we wait?") == [
        "I like it", "but the price is steep;", "can we wait?"]
    assert clauses("Turn that off, and I'll want to think it over.") == [
        "Turn that off", "and I'll want to think it over."]
    assert clauses("Red, white and blue.") == []  # one clause
    assert clauses("Okay. So.") == []  # one-word parts are not read alone


def test_a_text_saying_two_things_earns_both_tags(semantic_tagger: SemanticTagger) -> None:
    text = "This is great, so when can your crew start? We also need a loan."
    found = {t.tag for t in annotate([Segment(0, 1, text, "customer")],
                                     tagger=semantic_tagger).tags}
    assert found == {"buying_signal", "financing"}
    whole_only = SemanticTagger(semantic_tagger.embed, head=semantic_tagger.head,
                                part_threshold=1.0, window_threshold=1.0,
                                rule_floor=1.1)  # the head alone, on the whole text
    text = "Northside Roofing came in two grand under you, so yours seems pricey."
    found = semantic_tagger.classify_many([text], [])[0]
    assert list(found) == ["competitor.mention", "objection.price"]
    # the whole text reads as the competitor alone: the price is found in its own clause, whose
    # tokens, pooled from the same run, say their own thing
    whole = whole_only.classify_many([text], [])[0]
    assert list(whole) == ["competitor.mention"]


def test_a_window_of_a_sentence_that_says_two_things_earns_its_own_tag(
    semantic_tagger: SemanticTagger,
) -> None:
    text = ("Please stop recording this and also I heard from a neighbor that your crews never "
            "show up on time.")
    assert clauses(text) == []  # no clause break: the head gives the whole text one tag
    head_alone = {"head": semantic_tagger.head, "rule_floor": 1.1}  # no rules beside it
    without = SemanticTagger(semantic_tagger.embed, window_threshold=1.0, **head_alone)
    windowed = SemanticTagger(semantic_tagger.embed, **head_alone)
    alone = without.classify_many([text], [])[0]
    found = windowed.classify_many([text], [])[0]
    assert len(alone) == 1
    assert list(found) == ["consent.opt_out", "objection.trust"]
    (added,) = set(found) - set(alone)
    assert found[added] >= semantic_tagger.window_threshold + 0.1
    assert list(semantic_tagger.classify_many([text], [])[0]) == list(found)
    assert semantic_tagger.encode(["Turn it off."]).window_vectors[0].shape == (0, 384)


def test_only_windows_that_cannot_reach_the_threshold_are_left_unread(
    semantic_tagger: SemanticTagger,
) -> None:
    head = semantic_tagger.head
    rng = np.random.default_rng(5)
    mixed = head.examples[rng.choice(len(head.examples), (400, 3))].sum(axis=1)
    vectors = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
    tags = [n for n, c in enumerate(head.classes) if c != "none"]
    best = head.meaning(vectors)[:, tags].max(axis=1)
    for threshold in (0.5, 0.65, 0.8):
        hopeful = head.may_reach(vectors, threshold)
        assert not np.any(best[~hopeful] >= threshold)
        assert 0 < hopeful.sum() < len(vectors)  # it does leave some unread


def test_a_strong_rule_counts_where_one_clause_s_meaning_allows_its_tag(
    semantic_tagger: SemanticTagger,
) -> None:
    text = ("Please turn that recorder off right now, I really don't want any of this on tape. "
            "Culligan came by.")
    assert "competitor.mention" in rule_tags(text, DEFAULT_COMPETITORS)
    competitor = semantic_tagger.head.classes.index("competitor.mention")
    encoded = semantic_tagger.encode([text])
    whole = semantic_tagger.head.meaning(encoded.vectors)[0, competitor]
    clause = semantic_tagger.head.meaning(encoded.part_vectors[0])[1, competitor]
    # the opt-out outweighs the brand in the whole text's meaning, not in its own clause's
    assert whole < semantic_tagger.rule_floor < clause - 0.05
    assert "competitor.mention" in semantic_tagger.classify_many([text], DEFAULT_COMPETITORS)[0]


def test_a_strong_rule_counts_only_where_the_head_allows_its_tag(
    semantic_tagger: SemanticTagger,
) -> None:
    text = "My nephew wrote about Nikola Tesla for his science fair."
    assert rule_tags(text, DEFAULT_COMPETITORS) == {"competitor.mention": 0.85}
    assert semantic_tagger.classify_many([text], DEFAULT_COMPETITORS) == [{}]
    trusting = SemanticTagger(semantic_tagger.embed, head=semantic_tagger.head, rule_floor=0.0)
    assert trusting.classify_many([text], DEFAULT_COMPETITORS) == [{"competitor.mention": 0.85}]


def test_the_most_likely_tag_counts_from_the_threshold(semantic_tagger: SemanticTagger) -> None:
    classes = semantic_tagger.head.classes
    threshold = semantic_tagger.threshold

    def likely(tag: str, probability: float) -> npt.NDArray[np.float32]:
        row = np.full(len(classes), (1 - probability) / (len(classes) - 1), dtype=np.float32)
        row[classes.index(tag)] = probability
        return row

    rows = np.stack([likely("consent.opt_out", threshold - 0.02),
                     likely("objection.timing", threshold + 0.02), likely("none", 0.9)])
    assert [list(found) for found in semantic_tagger.head_tags(rows)] == [
        [], ["objection.timing"], []]
    assert [list(found) for found in semantic_tagger.head_tags(rows, threshold - 0.05)] == [
        ["consent.opt_out"], ["objection.timing"], []]


def test_examples_are_read_with_the_sentence_a_heard_one_came_from() -> None:
    text = ("tag\ttext\tsource\n"
            "objection.price\tWhoa, prize it.\tWhoa, pricey!\n"
            "none\tNice dog.\t\n")
    assert read_examples(text) == (Example("objection.price", "Whoa, prize it.", "Whoa, pricey!"),
                                   Example("none", "Nice dog."))



def test_only_heard_examples_the_slips_moved_vote_as_neighbours() -> None:
    examples = [Example("financing", "Is there a loan?"), Example("none", "Nice dog."),
                Example("financing", "Is there a long?", "Is there a loan?"),
                Example("financing", "Is there a lawn?", "Is there a loan?")]
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0.8, 0.6, 0], [0.6, 0, 0.8]], np.float32)
    assert distinct_heard(examples, vectors).tolist() == [True, True, False, True]
    head = train_head(vectors, [e.tag for e in examples], ("financing", "none"),
                      voters=distinct_heard(examples, vectors))
    assert head.examples.tolist() == [[1, 0, 0], pytest.approx([0.6, 0, 0.8]), [0, 1, 0]]
    assert head.labels.tolist() == [0, 0, 1]


def test_an_example_counts_in_the_head_as_much_as_its_weight() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    labels = ["a", "a", "none", "none", "a", "none"]
    alone = train_head(vectors[:4], labels[:4], ("a", "none"))
    ignored = train_head(vectors, labels, ("a", "none"), example_weights=[1, 1, 1, 1, 0, 0])
    halved = train_head(vectors, labels, ("a", "none"), example_weights=[1, 1, 1, 1, 0.5, 0.5])
    assert np.allclose(alone.weights, ignored.weights, atol=1e-5)
    assert not np.allclose(alone.weights, halved.weights, atol=1e-3)


def test_the_built_in_examples_cover_every_tag_in_balance() -> None:
    counts = Counter(e.tag for e in builtin_examples() if not e.source)
    assert set(counts) == {*TAXONOMY, "none"}
    per_tag = [counts[tag] for tag in TAXONOMY]
    assert min(per_tag) >= 80 and max(per_tag) <= 1.3 * min(per_tag), counts


def test_every_heard_example_is_one_of_todays_examples_as_the_recognizer_heard_it() -> None:
    examples = builtin_examples()
    written = {(e.tag, e.text) for e in examples if not e.source}
    heard = [e for e in examples if e.source]
    assert len(heard) > len(written)  # clean and noisy, where the recognizer slipped
    stale = [e for e in heard if (e.tag, e.source) not in written]
    assert not stale, f"rerun bench/tags_heard.py: {stale[:3]}"
    assert all(e.text != e.source for e in heard)


def test_a_sentence_cut_by_a_window_break_is_read_whole(semantic_tagger: SemanticTagger) -> None:
    # a tagger that needs 0.9, so that neither half is sure enough alone (0.42 and 0.66 with
    # the shipped threshold's tagger, which tags the second half on its own)
    strict = SemanticTagger(semantic_tagger.embed, head=semantic_tagger.head, threshold=0.9)
    segments = [Segment(28.0, 30.0, "i'm not the one who", "customer"),
                Segment(30.1, 32.0, "gets to decide that", "customer")]
    alone = strict.classify_many([s.text for s in segments], [])
    assert all("objection.authority" not in found for found in alone)
    tags = annotate(segments, tagger=strict).tags
    assert [(t.tag, t.start, t.end) for t in tags] == [("objection.authority", 28.0, 32.0)]


def test_a_fragment_cut_by_a_window_break_keeps_only_what_the_whole_sentence_says(
    semantic_tagger: SemanticTagger,
) -> None:
    first, rest = "can you turn off", "the sprinklers before you dig"
    assert list(semantic_tagger.classify_many([first], [])[0]) == ["consent.opt_out"]  # alone
    segments = [Segment(28.0, 30.0, first, "customer"), Segment(30.1, 32.0, rest, "customer")]
    assert annotate(segments, tagger=semantic_tagger).tags == ()
    # two sentences left without a stop between them still earn a tag each
    segments = [Segment(28.0, 30.0, "when can your crew start", "customer"),
                Segment(30.1, 32.0, "we also need a loan", "customer")]
    assert [(t.tag, t.start) for t in annotate(segments, tagger=semantic_tagger).tags] == [
        ("buying_signal", 28.0), ("financing", 30.1)]
    segments = [Segment(28.0, 30.0, first, "customer"),  # 3 s apart: no window break
                Segment(33.0, 35.0, rest, "customer")]
    assert [t.tag for t in annotate(segments, tagger=semantic_tagger).tags] == [
        "consent.opt_out"]


# --- smart trackers --------------------------------------------------------------------------

WARRANTY = ("warranty ~ What does the warranty cover? | Is labor included if something breaks? | "
            "How long are the panels guaranteed? | Who pays if the inverter fails? | "
            "Do you stand behind your work if it leaks?")


def test_a_smart_tracker_needs_5_to_20_examples() -> None:
    assert parse_tracker(WARRANTY).examples[0] == "What does the warranty cover?"
    with pytest.raises(TrackerError, match="has 4 example sentences; give 5 to 20"):
        parse_tracker("warranty ~ a | b | c | d")
    with pytest.raises(TrackerError, match="has 21 example"):
        parse_tracker("many ~ " + " | ".join(f"sentence {n}" for n in range(21)))
    with pytest.raises(ConfigError, match="tagger.trackers: smart tracker 'warranty' has 2"):
        parse_config({"tagger": {"trackers": ["warranty ~ one | two"]}})
    assert parse_config({"tagger": {"trackers": [WARRANTY, "pool = pool"]}}).tagger.trackers


def test_a_smart_trackers_untagged_negatives_weigh_half() -> None:
    """The built-in examples with no tag (a tracker's near misses) weigh as much together as
    the tagged ones, however few they are; the negatives' mean weight stays 1."""
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 2], dtype=np.int64)  # class 2 is "none"
    weights = background_weights(labels, none=2)
    assert weights[-1] == pytest.approx(4.0)  # the one untagged example
    assert sum(weights[:-1]) == pytest.approx(4.0)  # the seven tagged ones together
    assert sum(weights) == pytest.approx(len(labels))
    assert background_weights(np.array([2, 2], dtype=np.int64), none=2) == [1.0, 1.0]
    assert background_weights(labels, none=2, share=0.25)[-1] == pytest.approx(2.0)


def test_a_smart_tracker_matches_what_its_examples_mean(semantic_tagger: SemanticTagger) -> None:
    segments = [Segment(0, 1, "What happens if a panel cracks after a few years?"),
                Segment(10, 11, "The kids are at soccer practice until six."),
                Segment(20, 21, "I'd like a pool guy to look at it.")]
    tags = annotate(segments, trackers=[WARRANTY, "pool = pool"], tagger=semantic_tagger).tags
    trackers = [(t.tag, t.start) for t in tags if t.tag.startswith("tracker.")]
    assert trackers == [("tracker.warranty", 0), ("tracker.pool", 20)]
    assert 0.5 <= next(t.confidence for t in tags if t.tag == "tracker.warranty") <= 1.0
    rules_only = annotate(segments, trackers=[WARRANTY, "pool = pool"]).tags
    assert [t.tag for t in rules_only if t.tag.startswith("tracker.")] == ["tracker.pool"]


# --- the tag command -------------------------------------------------------------------------


def run_tag(models: Path, text: str, *extra: str) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SALESTAG_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "tag", "-", "--json", "--models-dir", str(models),
         *extra], input=text, capture_output=True, text=True, env=env, check=True, timeout=120)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_tag_command_prints_one_redacted_record_per_line(text_models: Path) -> None:
    text = ("Heads up, this badge records our chat for training.\n"
            "\n"
            "My cell is five five five, two one two, four three six eight.\n"
            "Do you offer any monthly payment plans?\n")
    records = run_tag(text_models, text)
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert records[1] == {"line": 2, "text": "", "tags": []}
    assert records[2]["text"] == "My cell is [PHONE]."
    assert [[t["tag"] for t in r["tags"]] for r in records] == [
        ["consent.disclosure"], [], ["pii.phone"], ["financing"]]
    assert all(0.5 <= t["confidence"] <= 1.0 for r in records for t in r["tags"])


def test_tag_command_without_the_model_uses_the_rules(tmp_path: Path) -> None:
    records = run_tag(tmp_path, "Do you offer financing?\n")
    assert records == [{"line": 1, "text": "Do you offer financing?",
                        "tags": [{"tag": "financing", "confidence": 0.9}]}]


def test_vectors_are_unit_length(text_models: Path) -> None:
    vectors = Embedder.load(text_models)(SENTENCES)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_sentence_gets_the_same_vector_whatever_is_embedded_beside_it(
    text_models: Path,
) -> None:
    embed = Embedder.load(text_models)
    alone = embed([SENTENCES[0]])[0]
    for others in (["Hi."], SENTENCES[1:], [SENTENCES[0] * 3]):
        assert np.array_equal(embed([*others, SENTENCES[0]])[-1], alone)


class CountedRuns:
    """An onnxruntime session that counts its runs."""

    def __init__(self, session: Any) -> None:
        self.session, self.runs = session, 0

    def run(self, *args: Any) -> Any:
        self.runs += 1
        return self.session.run(*args)


def test_clauses_are_pooled_from_their_text_s_own_run(text_models: Path) -> None:
    embed = Embedder.load(text_models)
    text = "We like the black panels. My husband has to okay it though."
    parts = clauses(text)
    counted = embed._session = CountedRuns(embed._session)
    vectors, found = embed.with_parts([text, "Hi."], [parts, ()])
    assert counted.runs == 2  # one run a text, none for its clauses
    assert np.array_equal(vectors, embed([text, "Hi."]))
    assert found[0].shape == (2, 384) and found[1].shape == (0, 384)
    assert np.allclose(np.linalg.norm(found[0], axis=1), 1.0, atol=1e-5)
    # each clause, read in its text, is nearer what it says alone than the whole text is, by
    # 0.05 at least, and far nearer it than the other clause alone: the text's run keeps its
    # clauses apart
    alone = embed(parts)
    near = found[0] @ alone.T
    assert np.all(np.diag(near) > alone @ vectors[0] + 0.05)
    other = np.fliplr(near).diagonal()  # each clause in its text against the other one alone
    assert np.all(np.diag(near) > other + 0.2)


def test_windows_start_every_half_window() -> None:
    assert list(windows(8, 8)) == []  # a text no longer than one window has none
    assert list(windows(9, 8)) == [0]
    assert list(windows(17, 8)) == [0, 4, 8]
    assert list(windows(30, 0)) == []


def test_windows_are_pooled_from_their_text_s_own_run_after_its_clauses(
    text_models: Path,
) -> None:
    embed = Embedder.load(text_models)
    text = "We like the black panels. My husband has to okay it before anything gets signed."
    parts = clauses(text)
    states = embed._states(embed._tokenizer.encode(text).ids)
    counted = embed._session = CountedRuns(embed._session)
    vectors, found = embed.with_parts([text, "Hi."], [parts, ()], window=8)
    assert counted.runs == 2
    starts = windows(len(states) - 2, 8)
    assert len(starts) >= 3 and found[0].shape == (len(parts) + len(starts), 384)
    assert found[1].shape == (0, 384)  # "Hi." is shorter than a window
    _, clauses_only = embed.with_parts([text], [parts])
    assert np.array_equal(found[0][:len(parts)], clauses_only[0])
    for row, start in zip(found[0][len(parts):], starts, strict=True):
        assert np.allclose(row, unit(states[1 + start:9 + start].mean(axis=0)), atol=1e-6)


def test_a_clause_cut_off_by_the_token_limit_gets_a_run_of_its_own(text_models: Path) -> None:
    embed = Embedder.load(text_models)
    first = " ".join(["panels"] * 130) + "."
    text = f"{first} My husband has to okay it."
    _, found = embed.with_parts([text], [clauses(text)])
    assert np.allclose(found[0][1], embed(["My husband has to okay it."])[0], atol=1e-6)


def test_a_preview_in_its_own_process_scores_as_the_tagger_does(
    text_models: Path, semantic_tagger: SemanticTagger
) -> None:
    examples = ("What does the warranty cover?", "Is labor included if something breaks?",
                "How long are the panels guaranteed?", "Who pays if the inverter fails?",
                "Do you stand behind your work if it leaks?")
    texts = ["What happens if a panel cracks after a few years?", "The kids are at soccer."]
    scored = preview(text_models, examples, texts)
    assert scored == score_texts(semantic_tagger, examples, texts)
    assert scored[0].score >= 0.5 > scored[1].score


def test_a_preview_without_the_model_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(catalogue.TextModelError, match="models install minilm"):
        preview(tmp_path, ("a",) * 5, ["Is that covered?"])


def test_installing_the_text_model_trains_its_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.cli.tag import text_models

    few = builtin_examples()[::8]  # the session's text_models fixture trains on them all
    monkeypatch.setattr(loader, "builtin_examples", lambda: few)
    monkeypatch.setattr(loader, "each_builtin_example", lambda: iter(few))
    out = io.StringIO()
    assert text_models("install", "minilm", tmp_path, out) == 0
    heads = list((tmp_path / "minilm").glob("head-*.npz"))
    assert len(heads) == 1 and f"minilm head {heads[0]} examples=" in out.getvalue()
