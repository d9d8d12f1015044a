"""The article-extraction benchmark's metric as implemented in benchmarks/extraction.py, on cases worked by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _benchmark() -> ModuleType:
    path = Path(__file__).parent.parent / "benchmarks" / "extraction.py"
    spec = importlib.util.spec_from_file_location("extraction_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _benchmark()


def test_shingles_are_four_token_runs_with_multiplicity() -> None:
    assert bench.shingles("a b c d e") == {("a", "b", "c", "d"): 1, ("b", "c", "d", "e"): 1}
    assert bench.shingles("a b a b a b a")[("a", "b", "a", "b")] == 2
    assert bench.shingles("# 見出し\n- 項目") == {("見出し", "項目"): 1}  # fewer than 4 tokens: one shingle
    assert bench.shingles("") == {}


def test_page_scores_are_normalised() -> None:
    score = bench.score_page("a b c d e f", "a b c d x")
    # gold shingles: abcd bcde cdef; predicted: abcd bcdx -> TP 1, FP 1, FN 2, over 4
    assert (score.tp, score.fp, score.fn) == (0.25, 0.25, 0.5)
    assert not score.exact
    assert bench.score_page("Hello, world!", "hello world").exact is False
    assert bench.score_page("Hello, world!", "# Hello\nworld").exact is True


def test_summary_means_over_pages() -> None:
    perfect = bench.score_page("a b c d", "a b c d")
    half = bench.score_page("a b c d e", "a b c d")  # TP 1, FN 1
    empty = bench.score_page("a b c d", "")  # TP 0, FP 0: no precision, recall 0
    summary = bench.summarise([perfect, half, empty])
    assert summary.precision == pytest.approx((1 + 1) / 2)
    assert summary.recall == pytest.approx((1 + 0.5 + 0) / 3)
    assert summary.f1 == pytest.approx(2 * summary.precision * summary.recall / (summary.precision + summary.recall))
    assert summary.accuracy == pytest.approx(1 / 3)
    both_empty = bench.score_page("", "")
    assert bench.summarise([both_empty]).f1 == 1.0
