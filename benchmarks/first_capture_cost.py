"""Benchmark: a first capture's extraction and passage-index writes, by deterministic instruction counts.

One process per measurement, to run under ``valgrind --tool=callgrind`` (set ``PYTHONHASHSEED=0``); a cost
per page is the difference of two runs, with N pages and with none (or without the index), over N:

    extract-gen N           extract_document of N generated pages (capture_rounds.page_html, version 1),
                            after one warm-up page
    extract-art N           the same on the first N pages of the article-extraction benchmark
    record N [noindex]      record_captures of N first captures (parts of 32, no claim analysis) on a
                            fresh SQLite store; ``noindex`` leaves index_new_versions out
    dump-gen N OUT          every Extracted (title, text, language, doubt) of N generated pages in both
                            versions, with and without selectors and content types, as JSON (compare with cmp)
    dump-art OUT            the same for the 181 article pages

    valgrind --tool=callgrind --callgrind-out-file=cg.out .venv/bin/python benchmarks/first_capture_cost.py record 64
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_rounds import page_html

ARTICLES = Path(
    os.environ.get("ARTICLES", Path(__file__).resolve().parents[2] / "shared/benchmarks/article-extraction")
)


def generated(pages: int, version: int = 1) -> list[bytes]:
    return [page_html(i, version, random.Random(i)).encode("utf-8") for i in range(pages)]


def articles(pages: int | None = None) -> list[tuple[str, bytes]]:
    keys = sorted(json.loads((ARTICLES / "ground-truth.json").read_text()))[:pages]
    return [(key, gzip.decompress((ARTICLES / "html" / f"{key}.html.gz").read_bytes())) for key in keys]


def main() -> None:
    from watcher.extract import extract_document
    from watcher.extract.selectors import Selectors

    mode = sys.argv[1]
    if mode in ("extract-gen", "extract-art"):
        pages = int(sys.argv[2])
        bodies = generated(pages + 1) if mode == "extract-gen" else [raw for _key, raw in articles(pages + 1)]
        content_type = "text/html; charset=utf-8" if mode == "extract-gen" else "text/html"
        for body in bodies:  # the first one warms up
            extract_document(body, content_type=content_type)
    elif mode == "dump-gen":
        selectors = [None, Selectors.parse(select=["main"], drop=[".note"]), Selectors.parse(drop=["ul"])]
        rows = [
            [version, index, repr(chosen), content_type, e.title, e.text, e.language, e.doubt]
            for version in (1, 2)
            for index, body in enumerate(generated(int(sys.argv[2]), version))
            for chosen in selectors
            for content_type in ("text/html; charset=utf-8", "text/html", None)
            if (e := extract_document(body, content_type=content_type, selectors=chosen))
        ]
        Path(sys.argv[3]).write_text(json.dumps(rows, ensure_ascii=False, indent=0))
    elif mode == "dump-art":
        selectors = [
            None,
            Selectors.parse(select=["article", "main"], drop=["aside"]),
            Selectors.parse(drop=["ul", "nav"]),
        ]
        rows = [
            [key, repr(chosen), content_type, e.title, e.text, e.language, e.doubt]
            for key, body in articles()
            for chosen in selectors
            for content_type in ("text/html", None)
            if (e := extract_document(body, content_type=content_type, selectors=chosen, url="https://example.com/a/b"))
        ]
        Path(sys.argv[2]).write_text(json.dumps(rows, ensure_ascii=False, indent=0))
    elif mode == "record":
        record_first_captures(int(sys.argv[2]), index=sys.argv[3:] != ["noindex"])
    else:
        raise SystemExit(__doc__)


def record_first_captures(pages: int, *, index: bool) -> None:
    import watcher.pipeline.record as record
    from watcher.capture import Capture
    from watcher.config import load_settings
    from watcher.db import Store
    from watcher.sources import SourceSpec, add_sources

    if not index:
        record.index_new_versions = lambda *_args, **_kwargs: None
    folder = Path(tempfile.mkdtemp(prefix="first-capture-cost-"))
    url = f"sqlite:///{folder}/watcher.db"
    os.environ.update({"WATCHER_DATABASE_URL": url, "WATCHER_DATA_DIR": str(folder / "data")})
    settings = load_settings()
    store = Store(url)
    bodies = generated(pages + 1)
    urls = [f"http://127.0.0.1:9/bench/page-{i:05d}/" for i in range(pages + 1)]
    with store.session() as session:
        add_sources(session, [SourceSpec(url=address) for address in urls])
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def capture(i: int) -> Capture:
        return Capture(
            source_id=i + 1,
            requested_url=urls[i],
            final_url=urls[i],
            fetched_at=start + timedelta(seconds=i),
            duration_ms=1,
            status=200,
            headers={"content-type": ["text/html; charset=utf-8"]},
            body=bodies[i],
        )

    parts = [[0]] + [list(range(first, min(first + 32, pages + 1))) for first in range(1, pages + 1, 32)]
    for part in parts:  # the first, one page, warms up
        with store.session() as session:
            record.record_captures(session, [capture(i) for i in part], settings=settings)
    store.dispose()


if __name__ == "__main__":
    main()
