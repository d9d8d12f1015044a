"""The claim analyser on the clinic-claims-dev set: findings per kind, the sentence ladder, and speed.

The data (labelled sentences and old/new page pairs modelled on real clinic pages) stays outside the
repository; this script reads it where it lies:

    .venv/bin/python benchmarks/claims_dev.py --data-dir ../shared/benchmarks/clinic-claims-dev [--verbose]

- **Pairs**: every pair's old and new page goes through the same steps as ``watcher compare OLD NEW``
  (``watcher.extract.extract_document`` then ``watcher.claims.compare_texts``), in this process. The
  findings are matched against the expected ones by the set's own ``score.py`` (imported from
  ``--data-dir`` at run time, so the matching semantics are the scorer's): per-kind precision and recall,
  and how many negative pairs raised nothing.
- **Sentences**: ``sentence_strength`` on every distinct sentence against its gold level (the highest
  strength of its rows): accuracy, and precision/recall per level.
- **Speed**: realistic pages of 200 sentences (headings, paragraphs of two or three sentences, lists,
  a table, a reference list) are put together from the set's sentences at run time, with a fixed seed,
  and ``analyze`` is timed on one core: once with the clause cache emptied before every page (a page
  never seen before) and once warm (the same site checked again, most sentences unchanged). The clock
  is the process's CPU time (``time.process_time``), not wall time, and each figure is the best of
  ``--rounds`` rounds, so other processes on a shared machine move it far less than they move wall time.
  ``--instructions`` also counts the instructions executed per sentence (cold cache) under valgrind's
  callgrind, a figure that does not depend on the machine's load at all: the script runs itself twice
  under valgrind, analysing ``INSTRUCTION_PAGES`` pages and none, and divides the difference.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from watcher.claims import ANALYSER_VERSION, analyze, compare_texts, sentence_strength
from watcher.claims.strength import clear_cache
from watcher.extract import extract_document

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "clinic-claims-dev"
PAGE_SENTENCES = 200
SPEED_PAGES = 60
SPEED_ROUNDS = 5
INSTRUCTION_PAGES = 10
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
SEED = 20240501
LEVELS = (0, 1, 2, 3, 4)


def load_scorer(data_dir: Path) -> ModuleType:
    """The set's own scorer, imported from the data directory (never copied)."""
    path = data_dir / "score.py"
    spec = importlib.util.spec_from_file_location("clinic_claims_dev_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page_text(document: str) -> str:
    return extract_document(document.encode("utf-8"), content_type=None).text


def run_pairs(pairs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        pair["id"]: [finding.to_dict() for finding in compare_texts(page_text(pair["old"]), page_text(pair["new"]))]
        for pair in pairs
    }


def load_sentences(data_dir: Path) -> dict[tuple[str, str], int]:
    """(text, lang) → gold level, the highest strength of the sentence's rows (as score.py reads it)."""
    gold: dict[tuple[str, str], int] = {}
    with (data_dir / "sentences.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            key = (row["text"], row["lang"])
            gold[key] = max(gold.get(key, 0), int(row["strength"]))
    return gold


def score_sentences(gold: dict[tuple[str, str], int], verbose: bool) -> dict[str, Any]:
    confusion: Counter[tuple[int, int]] = Counter()
    by_lang: Counter[tuple[str, bool]] = Counter()
    for (text, lang), level in gold.items():
        predicted = sentence_strength(text, lang)
        confusion[(level, predicted)] += 1
        by_lang[(lang, level == predicted)] += 1
        if verbose and level != predicted:
            print(f"  gold {level} got {predicted} [{lang}] {text}")
    per_level: dict[int, dict[str, Any]] = {}
    for level in LEVELS:
        hits = confusion[(level, level)]
        predicted_count = sum(count for (_, p), count in confusion.items() if p == level)
        gold_count = sum(count for (g, _), count in confusion.items() if g == level)
        per_level[level] = {
            "gold": gold_count,
            "predicted": predicted_count,
            "precision": hits / predicted_count if predicted_count else None,
            "recall": hits / gold_count if gold_count else None,
        }
    total = sum(confusion.values())
    return {
        "n": total,
        "accuracy": sum(count for (g, p), count in confusion.items() if g == p) / total,
        "claim_vs_no_claim": sum(count for (g, p), count in confusion.items() if (g > 0) == (p > 0)) / total,
        "within_one": sum(count for (g, p), count in confusion.items() if abs(g - p) <= 1) / total,
        "by_lang": {
            lang: by_lang[(lang, True)] / max(1, by_lang[(lang, True)] + by_lang[(lang, False)])
            for lang in ("ja", "en")
        },
        "per_level": per_level,
    }


def build_pages(gold: dict[tuple[str, str], int], lang: str, count: int) -> list[str]:
    """``count`` pages of ``PAGE_SENTENCES`` sentences in ``lang``, laid out like a clinic page."""
    rng = random.Random(f"{SEED}:{lang}")
    sentences = sorted(text for text, sentence_lang in gold if sentence_lang == lang)
    heading, item = ("## 治療について", "- ") if lang == "ja" else ("## About the treatment", "- ")
    references = [
        "- Ito K, Hara M. Outcomes of an outpatient infusion service. Clin Rep. 2021;12(3):45-52.",
        "- Berg L, Novak P. Magnetic stimulation in routine care. J Psychiatr Pract. 2019;25(4):301-309.",
    ]
    pages = []
    for _ in range(count):
        lines: list[str] = []
        used = 0
        while used < PAGE_SENTENCES:
            lines.append(heading)
            layout = rng.random()
            size = min(PAGE_SENTENCES - used, rng.randint(3, 8))
            chosen = [rng.choice(sentences) for _ in range(size)]
            if layout < 0.25:
                lines += [item + text for text in chosen]
            elif layout < 0.3:
                lines += [f"{text} | {rng.randint(1, 99)}%" for text in chosen]
            else:
                for start in range(0, size, 3):
                    lines.append(" ".join(chosen[start : start + 3]))
            used += size
        lines.append("## 参考文献" if lang == "ja" else "## References")
        lines += references
        pages.append("\n".join(lines))
    return pages


def time_pages(pages: list[str], *, cold: bool, rounds: int) -> float:
    """CPU seconds to analyse every page once, the best of ``rounds`` rounds (after a warm-up over all
    of them). CPU time of this process, not wall time: time spent waiting for the core while other
    processes run is not counted, and the best round is the one least disturbed by them (cache
    misses, frequency changes)."""
    for page in pages:
        analyze(page)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for page in pages:
            if cold:
                clear_cache()
            analyze(page)
        best = min(best, time.process_time() - started)
    return best


def speed(gold: dict[tuple[str, str], int], rounds: int) -> dict[str, Any]:
    pages = speed_pages(gold)
    result: dict[str, Any] = {
        "pages": len(pages),
        "sentences_per_page": PAGE_SENTENCES,
        "rounds": rounds,
        "clock": "process CPU time, best round",
    }
    for label, cold in (("cold_cache", True), ("warm_cache", False)):
        seconds = time_pages(pages, cold=cold, rounds=rounds)
        result[label] = {
            "sentences_per_second": round(len(pages) * PAGE_SENTENCES / seconds),
            "pages_per_second": round(len(pages) / seconds, 1),
        }
    return result


def speed_pages(gold: dict[tuple[str, str], int]) -> list[str]:
    return [page for lang in ("ja", "en") for page in build_pages(gold, lang, SPEED_PAGES // 2)]


def workload(gold: dict[tuple[str, str], int], count: int) -> None:
    """Analyse ``count`` of the speed pages with a cold cache (alternating languages), after one
    warm-up page: the fixed workload that ``--instructions`` counts under valgrind."""
    pages = speed_pages(gold)
    half = len(pages) // 2
    chosen = [page for pair in zip(pages[:half], pages[half:], strict=True) for page in pair][:count]
    analyze(pages[0])
    for page in chosen:
        clear_cache()
        analyze(page)


def instructions(data_dir: Path) -> dict[str, Any] | None:
    """Instructions per sentence (cold cache), counted by callgrind: ``INSTRUCTION_PAGES`` pages minus
    none, so start-up and imports cancel out. None when valgrind is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counts = []
    for pages in (0, INSTRUCTION_PAGES):
        command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
        command += ["--data-dir", str(data_dir), "--workload", str(pages)]
        run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        found = _COLLECTED.search(run.stderr)
        if run.returncode != 0 or found is None:
            raise SystemExit(f"valgrind failed: {run.stderr.strip()[-400:]}")
        counts.append(int(found.group(1)))
    sentences = INSTRUCTION_PAGES * PAGE_SENTENCES
    return {"pages": INSTRUCTION_PAGES, "per_sentence": round((counts[1] - counts[0]) / sentences)}


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.3f}"


def print_report(pairs: dict[str, Any], sentences: dict[str, Any], timing: dict[str, Any] | None) -> None:
    print(f"analyser {ANALYSER_VERSION}")
    clean, negatives = pairs["negatives_clean"]
    print(f"\nPAIRS ({len(pairs['pairs'])}; {negatives} negatives)")
    print(f"{'kind':28} {'TP':>4} {'FP':>4} {'FN':>4}  {'P':>5}  {'R':>5}")
    rows: list[tuple[str, dict[str, Any]]] = [*pairs["per_kind"].items(), ("OVERALL (micro)", pairs["overall"])]
    rows.append(("hard pairs only", pairs["hard"]))
    for name, row in rows:
        print(f"{name:28} {row['tp']:4} {row['fp']:4} {row['fn']:4}  {fmt(row['precision'])}  {fmt(row['recall'])}")
    print(f"negative pairs with no unexpected finding: {clean}/{negatives}")
    print(
        f"\nSENTENCES ({sentences['n']} unique): accuracy {sentences['accuracy']:.3f}"
        f"  claim/no-claim {sentences['claim_vs_no_claim']:.3f}  within one level {sentences['within_one']:.3f}"
        f"  ja {sentences['by_lang']['ja']:.3f}  en {sentences['by_lang']['en']:.3f}"
    )
    print(f"{'level':6} {'gold':>5} {'pred':>5}  {'P':>5}  {'R':>5}")
    for level, row in sentences["per_level"].items():
        print(f"{level:<6} {row['gold']:5} {row['predicted']:5}  {fmt(row['precision'])}  {fmt(row['recall'])}")
    if timing is not None:
        print(
            f"\nSPEED ({timing['pages']} pages of {timing['sentences_per_page']} sentences, one core;"
            f" CPU time, best of {timing['rounds']} rounds)"
        )
        for label in ("cold_cache", "warm_cache"):
            row = timing[label]
            print(f"{label:12} {row['sentences_per_second']:>8} sentences/s  {row['pages_per_second']:>7} pages/s")
        counted = timing.get("instructions")
        if counted:
            print(
                f"cold_cache   {counted['per_sentence']:>8} instructions/sentence (callgrind, {counted['pages']} pages)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--verbose", "-v", action="store_true", help="list missed/extra findings and wrong sentences")
    parser.add_argument("--no-speed", action="store_true", help="skip the timing")
    parser.add_argument("--rounds", type=int, default=SPEED_ROUNDS, help="timing rounds; the best is reported")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--workload", type=int, help=argparse.SUPPRESS)  # what --instructions counts
    parser.add_argument("--json", type=Path, help="also write the full result to this file")
    args = parser.parse_args(argv)
    if not (args.data_dir / "pairs.json").is_file() or not (args.data_dir / "sentences.tsv").is_file():
        print(f"no pairs.json/sentences.tsv in {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    if args.workload is not None:
        workload(load_sentences(args.data_dir), args.workload)
        return 0
    scorer = load_scorer(args.data_dir)
    pairs = json.loads((args.data_dir / "pairs.json").read_text(encoding="utf-8"))
    score_pairs: Callable[..., dict[str, Any]] = scorer.score_pairs
    if args.verbose:
        print("pairs with a missed or an unexpected finding:")
    pair_result = score_pairs(pairs, run_pairs(pairs), args.verbose)
    gold = load_sentences(args.data_dir)
    if args.verbose:
        print("sentences off their gold level:")
    sentence_result = score_sentences(gold, args.verbose)
    timing = None if args.no_speed else speed(gold, max(1, args.rounds))
    if timing is not None and args.instructions:
        timing["instructions"] = instructions(args.data_dir)
    print_report(pair_result, sentence_result, timing)
    if args.json:
        report = {"analyser_version": ANALYSER_VERSION, "pairs": pair_result, "sentences": sentence_result}
        args.json.write_text(json.dumps({**report, "speed": timing}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
