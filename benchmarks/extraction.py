"""Main-text extraction benchmark: watcher's extractor beside trafilatura on the article-extraction pages.

The data (181 gzipped pages and their gold ``articleBody``, MIT licence) stays outside the repository:

    .venv/bin/python benchmarks/extraction.py --data-dir ../shared/benchmarks/article-extraction

trafilatura is a benchmark-only dependency (``pip install -e '.[bench]'``); without it, or with
``--only watcher``, only watcher's extractor runs.

The metric is the benchmark's own, implemented here: tokens are ``\\w+`` matches; shingles are runs of
4 consecutive tokens, counted with multiplicity (a text of fewer tokens is one shingle); per page TP is the
sum of min(gold count, predicted count), FP and FN the excesses, normalised so that TP + FP + FN = 1;
precision is the mean over pages with TP + FP > 0, recall over pages with TP + FN > 0, a page with
FP = FN = 0 scoring 1 in both; F1 = 2PR / (P + R); accuracy is the share of pages whose token lists are
identical. Standard deviations come from a bootstrap over pages (``--bootstrap`` resamples, seeded).

Both extractors get the page's raw bytes (each decodes them its own way, as in production) and each
call is timed with ``time.process_time`` (CPU of this process, one core): ms/page is the mean.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watcher.extract import EXTRACTOR_VERSION, extract_document

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "article-extraction"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")

Extractor = Callable[[bytes], str]


# --- the metric ----------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(text: str, size: int = SHINGLE) -> Counter[tuple[str, ...]]:
    words = tokens(text)
    if not words:
        return Counter()
    return Counter(tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1)))


@dataclass(frozen=True)
class PageScore:
    tp: float
    fp: float
    fn: float
    exact: bool


def score_page(gold: str, predicted: str) -> PageScore:
    gold_counts, predicted_counts = shingles(gold), shingles(predicted)
    tp = fp = fn = 0
    for key in gold_counts.keys() | predicted_counts.keys():
        g, p = gold_counts[key], predicted_counts[key]
        tp += min(g, p)
        fp += max(0, p - g)
        fn += max(0, g - p)
    total = tp + fp + fn
    exact = tokens(gold) == tokens(predicted)
    if total == 0:
        return PageScore(0.0, 0.0, 0.0, exact)
    return PageScore(tp / total, fp / total, fn / total, exact)


@dataclass(frozen=True)
class Summary:
    f1: float
    precision: float
    recall: float
    accuracy: float


def summarise(pages: Sequence[PageScore]) -> Summary:
    precisions: list[float] = []
    recalls: list[float] = []
    for page in pages:
        perfect = page.fp == 0 and page.fn == 0
        if perfect or page.tp + page.fp > 0:
            precisions.append(1.0 if perfect else page.tp / (page.tp + page.fp))
        if perfect or page.tp + page.fn > 0:
            recalls.append(1.0 if perfect else page.tp / (page.tp + page.fn))
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(page.exact for page in pages) / len(pages) if pages else 0.0
    return Summary(f1=f1, precision=precision, recall=recall, accuracy=accuracy)


def bootstrap_f1_std(pages: Sequence[PageScore], *, resamples: int, seed: int = 0) -> float:
    if resamples < 2 or not pages:
        return 0.0
    rng = random.Random(seed)
    values = [summarise(rng.choices(pages, k=len(pages))).f1 for _ in range(resamples)]
    return statistics.stdev(values)


# --- the extractors ------------------------------------------------------------------------------


def watcher_text(raw: bytes) -> str:
    return extract_document(raw, content_type="text/html").text


def trafilatura_extractor() -> Extractor | None:
    try:
        import trafilatura  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None

    def run(raw: bytes) -> str:
        return str(trafilatura.extract(raw, include_comments=False) or "")

    return run


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    key: str
    raw: bytes
    gold: str


def load_pages(data_dir: Path, *, limit: int | None) -> list[Page]:
    truth_path = data_dir / "ground-truth.json"
    if not truth_path.is_file():
        raise SystemExit(f"error: {truth_path} not found (give --data-dir the benchmark folder)")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = data_dir / "html" / f"{key}.html.gz"
        pages.append(Page(key=key, raw=gzip.decompress(path.read_bytes()), gold=truth[key].get("articleBody") or ""))
    return pages[:limit] if limit else pages


@dataclass(frozen=True)
class Run:
    name: str
    scores: list[PageScore]
    texts: list[str]
    cpu_ms: float


def run_extractor(name: str, extract: Extractor, pages: Sequence[Page]) -> Run:
    extract(pages[0].raw)  # warm-up: imports and compiled patterns are not per-page cost
    scores, texts, cpu = [], [], 0.0
    for page in pages:
        start = time.process_time()
        text = extract(page.raw)
        cpu += time.process_time() - start
        texts.append(text)
        scores.append(score_page(page.gold, text))
    return Run(name=name, scores=scores, texts=texts, cpu_ms=cpu * 1000 / len(pages))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--only", choices=("watcher", "trafilatura"), help="run one extractor")
    parser.add_argument("--limit", type=int, help="first N pages only (quick runs)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the F1 std (0: none)")
    parser.add_argument("--worst", type=int, default=0, help="list the N pages where watcher scores lowest")
    parser.add_argument("--dump-dir", type=Path, help="write each extractor's text per page here (outside the repo)")
    args = parser.parse_args(argv)

    pages = load_pages(args.data_dir, limit=args.limit)
    extractors: list[tuple[str, Extractor]] = []
    if args.only in (None, "watcher"):
        extractors.append((f"watcher {EXTRACTOR_VERSION}", watcher_text))
    if args.only in (None, "trafilatura"):
        trafilatura = trafilatura_extractor()
        if trafilatura is None:
            print("trafilatura is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
        else:
            extractors.append(("trafilatura " + _version("trafilatura"), trafilatura))
    if not extractors:
        print("error: no extractor to run", file=sys.stderr)
        return 2

    runs = [run_extractor(name, extract, pages) for name, extract in extractors]
    print(f"{len(pages)} pages from {args.data_dir}")
    print("| extractor | F1 | precision | recall | accuracy | CPU ms/page |")
    print("|---|---|---|---|---|---|")
    for run in runs:
        summary = summarise(run.scores)
        std = bootstrap_f1_std(run.scores, resamples=args.bootstrap)
        print(
            f"| {run.name} | {summary.f1:.3f} ± {std:.3f} | {summary.precision:.3f} | {summary.recall:.3f}"
            f" | {summary.accuracy:.3f} | {run.cpu_ms:.1f} |"
        )
    for run in runs:
        if run.name.startswith("watcher"):
            # The gold articleBody leaves the headline out; watcher's text opens with it ("# title"),
            # as the analyser needs. Scored without that one line, for comparison only.
            bodies = [_without_title_line(text) for text in run.texts]
            summary = summarise([score_page(page.gold, body) for page, body in zip(pages, bodies, strict=True)])
            print(
                f"| {run.name}, title line left out | {summary.f1:.3f} | {summary.precision:.3f}"
                f" | {summary.recall:.3f} | {summary.accuracy:.3f} | {run.cpu_ms:.1f} |"
            )
    if args.worst and runs[0].name.startswith("watcher"):
        ranked = sorted(zip(pages, runs[0].scores, strict=True), key=lambda pair: _page_f1(pair[1]))
        print(f"\nworst {args.worst} pages for {runs[0].name} (F1, P, R, key):")
        for page, score in ranked[: args.worst]:
            precision, recall = _page_pr(score)
            print(f"{_page_f1(score):.3f} {precision:.3f} {recall:.3f} {page.key}")
    if args.dump_dir:
        for run in runs:
            folder = args.dump_dir / run.name.split()[0]
            folder.mkdir(parents=True, exist_ok=True)
            for page, text in zip(pages, run.texts, strict=True):
                (folder / f"{page.key}.txt").write_text(text, encoding="utf-8")
            (args.dump_dir / "gold").mkdir(exist_ok=True)
            for page in pages:
                (args.dump_dir / "gold" / f"{page.key}.txt").write_text(page.gold, encoding="utf-8")
    return 0


def _without_title_line(text: str) -> str:
    first, _, rest = text.partition("\n")
    return rest if first.startswith("# ") else text


def _page_pr(score: PageScore) -> tuple[float, float]:
    precision = score.tp / (score.tp + score.fp) if score.tp + score.fp else 0.0
    recall = score.tp / (score.tp + score.fn) if score.tp + score.fn else 0.0
    return precision, recall


def _page_f1(score: PageScore) -> float:
    precision, recall = _page_pr(score)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
