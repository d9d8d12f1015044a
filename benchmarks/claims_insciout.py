"""Claim-strength benchmark on the InSciOut press-release/abstract pairs (Wright & Augenstein 2021).

Label = sign of sentence_certainty(press release conclusion) compared with sentence_certainty(abstract
conclusion): the 0-4 level first, then, on the same level, the fewer hedges ("could potentially" <
"could") is the stronger; exaggerates / same / downplays. ``--levels-only`` compares the levels alone
(sentence_strength, the comparison up to analyser 1.3.0). Reports macro-F1 and per-class P/R/F1 for each
split, and sentence_strength throughput on one core over every sentence of the data.

The data is GPL-3.0 evaluation data and stays outside the repository:

    .venv/bin/python benchmarks/claims_insciout.py [--data-dir ../shared/benchmarks] [--split test]

Tune on the train split only; report the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from watcher.claims import ANALYSER_VERSION, sentence_certainty, sentence_strength
from watcher.claims.strength import clear_cache

LABELS = ("exaggerates", "same", "downplays")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "benchmarks"
THROUGHPUT_ROUNDS = 20


def predict(press_release: str, abstract: str, *, levels_only: bool = False) -> str:
    if levels_only:
        stronger: tuple[int, ...] = (sentence_strength(press_release, "en"),)
        weaker: tuple[int, ...] = (sentence_strength(abstract, "en"),)
    else:
        stronger, weaker = sentence_certainty(press_release), sentence_certainty(abstract)
    if stronger > weaker:
        return "exaggerates"
    if stronger < weaker:
        return "downplays"
    return "same"


def scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    per_class: dict[str, dict[str, float]] = {}
    for label in LABELS:
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        predicted_count = predicted.count(label)
        gold_count = gold.count(label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / gold_count if gold_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": gold_count}
    macro_f1 = sum(values["f1"] for values in per_class.values()) / len(LABELS)
    accuracy = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold)
    return {"macro_f1": macro_f1, "accuracy": accuracy, "per_class": per_class}


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(rows: list[dict[str, Any]], *, levels_only: bool = False) -> dict[str, Any]:
    gold = [row["exaggeration_label"] for row in rows]
    predicted = [
        predict(row["press_release_conclusion"], row["abstract_conclusion"], levels_only=levels_only) for row in rows
    ]
    return scores(gold, predicted)


def throughput(sentences: list[str]) -> float:
    """Sentences per second for sentence_strength on one core (after a warm-up pass), with the clause
    cache emptied before every round so that each sentence is assessed afresh: process CPU time of the
    best of ``THROUGHPUT_ROUNDS`` rounds, so that other processes on the machine move it little."""
    for sentence in sentences:
        sentence_strength(sentence)
    best = float("inf")
    for _ in range(THROUGHPUT_ROUNDS):
        clear_cache()
        started = time.process_time()
        for sentence in sentences:
            sentence_strength(sentence)
        best = min(best, time.process_time() - started)
    return len(sentences) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--split", choices=("train", "test", "both"), default="both")
    parser.add_argument("--levels-only", action="store_true", help="compare the 0-4 levels alone, no hedge tie-break")
    args = parser.parse_args(argv)
    splits = ("train", "test") if args.split == "both" else (args.split,)
    comparison = "levels" if args.levels_only else "levels, then hedges"
    report: dict[str, Any] = {"analyser_version": ANALYSER_VERSION, "comparison": comparison}
    sentences: list[str] = []
    for split in splits:
        path = args.data_dir / f"insciout_{split}.jsonl"
        if not path.exists():
            print(f"missing {path}; pass --data-dir", file=sys.stderr)
            return 2
        rows = load(path)
        report[split] = {"pairs": len(rows), **evaluate(rows, levels_only=args.levels_only)}
        sentences += [row[key] for row in rows for key in ("press_release_conclusion", "abstract_conclusion")]
    average_length = sum(map(len, sentences)) / len(sentences)
    report["throughput"] = {
        "sentences": len(sentences),
        "average_chars": round(average_length, 1),
        "sentences_per_second": round(throughput(sentences)),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
