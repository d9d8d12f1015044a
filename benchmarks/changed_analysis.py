"""Benchmark: the analysis of a round's changed pages (claim profile, comparison, alerts), in one process.

Records capture_rounds.py's pages as captures built in this process (no site, no crawler): round 1 every
page new, then round 2 the 10 % changed pages, ``--batch`` captures per ``record_captures`` call as the
service hands them over. Round 2 is measured ``--repeat`` times, each rolled back and the analyser's caches
brought back to their state after round 1 (cleared, then round 1's texts analysed again), so that every
repeat does the same work. What is measured is the analysis's span of each part of a batch: from the
first ``analyse_new_version`` call to the end of the flush that follows the part's calls (the profiles
and alerts the analysis added are written there) — the CPU (``time.process_time``, min and median of the
repeats), the SQL statements sent in it (an executemany counts once), the flushes, and with ``--calls``
the Python calls counted by cProfile (deterministic).

    .venv/bin/python benchmarks/changed_analysis.py --pages 500 [--database postgresql] [--repeat 5] [--calls]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_rounds import changed_pages, page_html
from service_rounds import scratch_database
from sqlalchemy import event, select
from sqlalchemy.orm import Session

import watcher.pipeline.record as record
from watcher.capture import Capture
from watcher.claims import analyze
from watcher.claims.segment import _split_cached
from watcher.claims.strength import clear_cache
from watcher.config import load_settings
from watcher.db import Store
from watcher.models import Source, TextVersion
from watcher.pipeline.analyse import analyse_new_version
from watcher.sources import SourceSpec, add_sources

T0 = datetime(2026, 12, 1, tzinfo=UTC)
# What ``_record_part`` calls right after the flush that follows its analysis hooks (the names differ by
# tree: main before the ``index`` branch indexed a part's versions one by one).
INDEXING = ("index_new_versions", "index_new_version", "index_first_versions")


class Span:
    """The analysis's span of each part: opened by the part's first hook call, closed by the first
    indexing call after the part's flush (``_record_part`` indexes right after it, see ``INDEXING``)."""

    def __init__(self, profiler: cProfile.Profile | None) -> None:
        self.profiler = profiler
        self.started: float | None = None
        self.cpu = 0.0
        self.statements = 0
        self.flushes = 0

    def hook(self, session: Session, version: Any, previous: Any) -> Any:
        if self.started is None:
            self.started = time.process_time()
            if self.profiler is not None:
                self.profiler.enable()
        return analyse_new_version(session, version, previous)

    def closing(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.started is not None:
                if self.profiler is not None:
                    self.profiler.disable()
                self.cpu += time.process_time() - self.started
                self.started = None
            return function(*args, **kwargs)

        return wrapped


def capture(source_id: int, url: str, index: int, version: int, day: int) -> Capture:
    return Capture(
        source_id=source_id,
        requested_url=url,
        final_url=url,
        fetched_at=T0 + timedelta(days=day, seconds=index),
        duration_ms=5,
        status=200,
        headers={"Content-Type": ["text/html; charset=utf-8"]},
        body=page_html(index, version, random.Random(index)).encode("utf-8"),
    )


def _hold_sources(session: Session, captures: list[Capture]) -> list[Source]:
    """The batch's sources in the session's identity map, as the service's ``_record_batch`` holds them."""
    return list(session.scalars(select(Source).where(Source.id.in_({c.source_id for c in captures}))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--batch", type=int, default=10, help="changed captures per record_captures call")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", action="store_true", help="count the span's Python calls (cProfile)")
    args = parser.parse_args()
    url = "postgresql://postgres@127.0.0.1:5432/postgres" if args.database == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="changed-analysis-") as tmp, scratch_database(url, Path(tmp)) as db:
        os.environ.update({"WATCHER_DATABASE_URL": db, "WATCHER_DATA_DIR": str(Path(tmp) / "data")})
        settings = load_settings()
        store = Store(db)
        urls = [f"https://bench.example/page-{i:05d}/" for i in range(args.pages)]
        with store.session() as session:
            ids = [source.id for source in add_sources(session, [SourceSpec(url=u) for u in urls])]
        for start in range(0, args.pages, 50):
            with store.session() as session:
                captures = [capture(ids[i], urls[i], i, 1, 0) for i in range(start, min(start + 50, args.pages))]
                held = _hold_sources(session, captures)
                record.record_captures(session, captures, settings=settings, on_new_version=analyse_new_version)
        with store.session() as session:
            first_texts = list(session.scalars(select(TextVersion.text).order_by(TextVersion.id)))
        changed = sorted(changed_pages(args.pages, args.changed))
        results: list[Span] = []
        for _repeat in range(args.repeat):
            # The analyser's caches as round 1 left them: its texts analysed again, in the same order.
            clear_cache()
            _split_cached.cache_clear()
            for text in first_texts:
                analyze(text)
            span = Span(cProfile.Profile() if args.calls else None)

            def count(*_args: Any, span: Span = span) -> None:
                span.statements += span.started is not None

            def flushed(*_args: Any, span: Span = span) -> None:
                span.flushes += span.started is not None

            event.listen(store.engine, "before_cursor_execute", count)
            original = {name: getattr(record, name) for name in INDEXING if hasattr(record, name)}
            for name, function in original.items():
                setattr(record, name, span.closing(function))
            try:
                with store.session() as session:
                    event.listen(session, "after_flush", flushed)
                    for start in range(0, len(changed), args.batch):
                        part = [capture(ids[i], urls[i], i, 2, 1) for i in changed[start : start + args.batch]]
                        held = _hold_sources(session, part)
                        record.record_captures(session, part, settings=settings, on_new_version=span.hook)
                        del held
                    session.rollback()
            finally:
                for name, function in original.items():
                    setattr(record, name, function)
                event.remove(store.engine, "before_cursor_execute", count)
            results.append(span)
        store.dispose()
    cpus = sorted(span.cpu for span in results)
    line = (
        f"{len(changed)} changed pages, {args.database}: analysis span CPU min {cpus[0] * 1000:.0f} ms "
        f"({cpus[0] * 1000 / len(changed):.2f} ms/page), median {statistics.median(cpus) * 1000:.0f} ms "
        f"over {args.repeat} (load {os.getloadavg()[0]:.1f}); {results[-1].statements} SQL statements, "
        f"{results[-1].flushes} flushes"
    )
    if args.calls:
        calls = [pstats.Stats(span.profiler).total_calls for span in results]  # type: ignore[attr-defined]
        line += f"; Python calls {min(calls)}-{max(calls)} ({min(calls) / len(changed):.0f}/page)"
    print(line)


if __name__ == "__main__":
    main()
