"""The held-out paraphrase sets (each written from docs/taxonomy.md before the tagger was tuned
again) are well formed: each has the columns ``bench/tags.py --split test`` reads (``split``
``test``, tags joined by ``;``), covers every tag (a partial set: the tags it was written for),
and holds only tags the taxonomy defines, each from a speaker that can earn it. No row is
tagged here."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from gateway.intel.redactor import PLACEHOLDERS
from gateway.intel.scope import allowed
from gateway.intel.tagger import RULES

DATA = Path(__file__).parents[1] / "tests/data"
SCRIPTS_DATA = Path(__file__).parents[1] / "scripts/data"
HELDOUT_SETS = [DATA / "tag-heldout.tsv", DATA / "tag-heldout2.tsv", DATA / "tag-heldout3.tsv",
                DATA / "tag-heldout4.tsv", DATA / "tag-heldout5.tsv",
                DATA / "tag-heldout6.tsv", DATA / "tag-heldout8.tsv",
                DATA / "tag-heldout9.tsv", DATA / "tag-heldout10.tsv",
                DATA / "tag-heldout11.tsv", DATA / "tag-heldout12.tsv",
                DATA / "tag-heldout13.tsv", DATA / "tag-heldout14.tsv",
                DATA / "tag-heldout15.tsv", DATA / "tag-heldout16.tsv",
                DATA / "tag-heldout17.tsv", DATA / "tag-heldout18.tsv",
                DATA / "tag-heldout19.tsv", DATA / "tag-heldout20.tsv",
                DATA / "tag-heldout21.tsv", DATA / "tag-heldout22.tsv",
                DATA / "tag-heldout23.tsv", DATA / "tag-heldout24.tsv",
                DATA / "tag-heldout25.tsv", DATA / "tag-heldout26.tsv",
                DATA / "tag-heldout27.tsv", DATA / "tag-heldout28.tsv",
                DATA / "tag-heldout29.tsv", DATA / "tag-heldout30.tsv",
                DATA / "tag-heldout31.tsv", DATA / "tag-heldout32.tsv"]
PARTIAL_SETS = {DATA / "tag-heldout7.tsv": {  # written for six tags
    "consent.disclosure", "consent.opt_out", "objection.price", "objection.timing", "financing",
    "next_step"}}
MIN_PER_TAG = 16  # sentences whose only tag it is
MIN_TWO_TAGS = 20  # in a set of every tag; in proportion in a partial set
MIN_NONE = 60


def read_tsv(path: Path) -> list[dict[str, str]]:
    """The rows of a tab-separated file with a header line."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def gold(row: dict[str, str]) -> set[str]:
    return {t for t in row["tags"].split(";") if t}


@pytest.mark.parametrize("heldout", [*HELDOUT_SETS, *PARTIAL_SETS], ids=lambda path: path.name)
def test_heldout_set_loads_and_covers_every_tag(heldout: Path) -> None:
    rows = read_tsv(heldout)
    assert rows and {row["split"] for row in rows} == {"test"}
    sentence_tags = {rule.tag for rule in RULES}
    defined = sentence_tags | {f"pii.{kind}" for kind in PLACEHOLDERS}
    tags = [gold(row) for row in rows]
    assert set().union(*tags) <= defined
    assert all(allowed(tag, row["speaker"]) for row, found in zip(rows, tags, strict=True)
               for tag in found)
    assert len({row["id"] for row in rows}) == len(rows)
    alone = Counter(next(iter(found)) for found in tags if len(found) == 1)
    covered = PARTIAL_SETS.get(heldout, sentence_tags)
    assert {tag: alone[tag] for tag in covered if alone[tag] < MIN_PER_TAG} == {}
    share = len(covered) / len(sentence_tags)
    assert sum(1 for found in tags if len(found) == 2) >= MIN_TWO_TAGS * share
    assert sum(1 for found in tags if not found) >= MIN_NONE * share


@pytest.mark.parametrize("name", ["trackers-tuning.tsv", "trackers-heldout.tsv"])
def test_a_tracker_set_has_ten_examples_and_ten_tests_a_concept(name: str) -> None:
    """``bench/trackers.py`` reads these: 8 concepts of 10 ``train`` and 10 ``test`` sentences,
    80 ``negative`` ones, no sentence twice."""
    rows = read_tsv(DATA / name)
    counts = Counter((r["concept"], r["role"]) for r in rows)
    concepts = {c for c, _ in counts if c != "none"}
    assert len(concepts) == 8
    assert all(counts[c, "train"] == counts[c, "test"] == 10 for c in concepts)
    assert counts["none", "negative"] == 80 and len(counts) == 17
    assert len({r["text"].lower() for r in rows}) == len(rows)


def test_the_kept_heard_forms_name_rows_of_the_sets() -> None:
    """``scripts/train_adapter.py`` reads ``spent-sets-heard.tsv`` (``scripts/keep_heard.py``
    writes it): each row a row of a paraphrase set, as heard clean and in noise, once each."""
    heard = read_tsv(DATA / "spent-sets-heard.tsv")
    keys = [(row["set"], row["id"], row["condition"]) for row in heard]
    assert heard and len(set(keys)) == len(keys)
    assert {row["condition"] for row in heard} == {"clean", "noisy"}
    for name in {row["set"] for row in heard}:
        ids = {row["id"] for row in read_tsv(DATA / name)}
        kept = [(row["id"], row["condition"]) for row in heard if row["set"] == name]
        assert {row_id for row_id, _ in kept} == ids and len(kept) == 2 * len(ids)


def test_the_sentences_written_for_the_adapter_are_labelled_and_held_apart() -> None:
    """``scripts/train_adapter.py`` also trains on ``scripts/data/adapter-sentences.tsv``:
    one sentence tag or none a row, from a speaker that can earn it, every tag with examples,
    and no sentence of a held-out set among them."""
    rows = read_tsv(SCRIPTS_DATA / "adapter-sentences.tsv")
    sentence_tags = {rule.tag for rule in RULES}
    assert len({row["id"] for row in rows}) == len(rows)
    assert {row["tags"] for row in rows} == sentence_tags | {""}
    assert all(allowed(row["tags"], row["speaker"]) for row in rows if row["tags"])
    held_out = {row["text"].lower() for heldout in [*HELDOUT_SETS, *PARTIAL_SETS]
                for row in read_tsv(heldout)}
    assert not {row["text"].lower() for row in rows} & held_out


def test_the_heard_forms_of_the_written_sentences_name_them() -> None:
    """``scripts/keep_heard.py --written`` keeps some of the adapter's own sentences as heard:
    each row one of ``adapter-sentences.tsv``'s ids, heard clean and in noise, once each."""
    ids = {row["id"] for row in read_tsv(SCRIPTS_DATA / "adapter-sentences.tsv")}
    heard = read_tsv(SCRIPTS_DATA / "adapter-sentences-heard.tsv")
    kept = Counter(row["id"] for row in heard)
    assert heard and set(kept) <= ids and set(kept.values()) == {2}
    assert {(row["id"], row["condition"]) for row in heard} == {
        (row_id, condition) for row_id in kept for condition in ("clean", "noisy")}
