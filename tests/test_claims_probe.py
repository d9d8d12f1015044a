"""Generalisation probe for the claim analyser: sentences and page pairs modelled on clinic pages from
hosts that are not in the clinic-claims-dev source list (``tests/claims_eval/probe_*``).

The labels were written before the analyser was run on them. The thresholds below are what the
analyser reached after the fixes that the probe prompted (fixing failure classes, never sentences);
they are a floor against regressions, not a target. ``pytest -s`` prints the tables.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from test_claims_eval import (
    EXPECTED_KEYS,
    KNOWN_INDICATIONS,
    LEVELS,
    ExpectedFinding,
    Pair,
    format_confusion,
    format_table,
    pair_problems,
    score_pair,
    tally_kinds,
    tally_levels,
)

from watcher.claims import compare_texts, sentence_strength

EVAL_DIR = Path(__file__).parent / "claims_eval"
SENTENCE_COLUMNS = ["id", "lang", "strength", "indications", "source_url", "sentence"]
PAIR_KEYS = frozenset({"id", "lang", "hard_negative", "source_url", "note", "old", "new", "expected"})
# Floors: what analyser 1.2.0 reaches on the probe (see benchmarks/README.md for the before/after).
MIN_SENTENCE_ACCURACY = 0.94  # 1.2.0: 86/91 = 0.945 (1.1.0: 0.791)
MIN_PAIR_PRECISION = 1.0  # 1.2.0: 11/11 (1.1.0: 7/8)
MIN_PAIR_RECALL = 1.0  # 1.2.0: 11/11 (1.1.0: 7/11)


@dataclass(frozen=True)
class ProbeSentence:
    id: str
    lang: str
    strength: int
    indications: tuple[str, ...]
    source_url: str
    text: str


def load_probe_sentences() -> list[ProbeSentence]:
    with (EVAL_DIR / "probe_sentences.tsv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        assert next(reader) == SENTENCE_COLUMNS
        return [
            ProbeSentence(row[0], row[1], int(row[2]), tuple(filter(None, row[3].split(","))), row[4], row[5])
            for row in reader
        ]


def load_probe_pairs() -> list[Pair]:
    with (EVAL_DIR / "probe_pairs.yaml").open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    pairs: list[Pair] = []
    for item in raw:
        assert set(item) == PAIR_KEYS, f"{item.get('id')}: keys {sorted(item)}"
        assert all(set(e) <= EXPECTED_KEYS for e in item["expected"]), item["id"]
        expected = tuple(
            ExpectedFinding(kind=e["kind"], indication=e.get("indication"), reference=e.get("reference"))
            for e in item["expected"]
        )
        pairs.append(
            Pair(item["id"], item["lang"], item["hard_negative"], item["note"], item["old"], item["new"], expected)
        )
    return pairs


SENTENCES = load_probe_sentences()
PAIRS = load_probe_pairs()


def test_probe_set_shape() -> None:
    assert len(SENTENCES) >= 80
    assert len({s.id for s in SENTENCES}) == len(SENTENCES)
    assert len({s.text for s in SENTENCES}) == len(SENTENCES)
    assert {s.lang for s in SENTENCES} == {"ja", "en"}
    assert set(Counter(s.strength for s in SENTENCES)) == set(LEVELS)
    assert all(s.source_url.startswith("http") for s in SENTENCES)
    unknown = (
        {i for s in SENTENCES for i in s.indications}
        - KNOWN_INDICATIONS
        - {
            "myocardial_infarction",
            "cognitive_impairment",
        }
    )
    assert not unknown, unknown
    assert len(PAIRS) >= 16
    negatives = [pair for pair in PAIRS if not pair.expected]
    assert len(negatives) * 2 >= len(PAIRS) - 2, "about half the pairs must be negatives"
    problems = [f"{pair.id}: {problem}" for pair in PAIRS for problem in pair_problems(pair)]
    assert not problems, "\n".join(problems)


def test_probe_sentences() -> None:
    gold = [s.strength for s in SENTENCES]
    predicted = [sentence_strength(s.text, lang=s.lang) for s in SENTENCES]
    print(f"\n{format_table(f'probe sentence strength ({len(SENTENCES)})', tally_levels(gold, predicted))}")
    print(format_confusion(gold, predicted))
    misses = [
        f"  {s.id} gold {s.strength} got {p}: {s.text}"
        for s, p in zip(SENTENCES, predicted, strict=True)
        if s.strength != p
    ]
    accuracy = 1 - len(misses) / len(SENTENCES)
    print(f"accuracy {accuracy:.3f}")
    assert accuracy >= MIN_SENTENCE_ACCURACY, "\n".join([f"accuracy {accuracy:.3f}", *misses])


def test_probe_pairs() -> None:
    outcomes = [score_pair(pair, compare_texts(pair.old, pair.new)) for pair in PAIRS]
    tallies = tally_kinds(outcomes)
    print(f"\n{format_table(f'probe findings ({len(PAIRS)} pairs)', tallies)}")
    tp = sum(t.tp for t in tallies.values())
    fp = sum(t.fp for t in tallies.values())
    fn = sum(t.fn for t in tallies.values())
    misses = [
        f"  {o.pair_id}: missed {[e.describe() for e in o.missed]} unexpected {[g.describe() for g in o.spurious]}"
        for o in outcomes
        if o.missed or o.spurious
    ]
    print("\n".join(misses))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    assert precision >= MIN_PAIR_PRECISION and recall >= MIN_PAIR_RECALL, "\n".join(
        [f"precision {precision:.3f} recall {recall:.3f}", *misses]
    )
