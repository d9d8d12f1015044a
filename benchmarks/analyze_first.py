"""Benchmark: the claim analysis of first captures (``watcher.claims.analyze`` on texts never seen), in one process.

The fixed input: round 1 of capture_rounds.py's generated site (``--pages`` first versions, extracted as the
service extracts them, with the language the extractor detected) and, when the set is there, the texts of the
clinic-claims-dev pairs (old and new, extracted as ``watcher compare`` does, language detected by the analyser).
Every text is analysed once, one after the other, with the analyser's caches as a long-running service has them
(a site's shared sentences are met again; its pages' own are new).

    .venv/bin/python benchmarks/analyze_first.py [--pages 500] [--dump FILE] [--calls] [--setup-only]

``--dump FILE``: every profile's JSON (sorted keys), one a line, so that two branches compare with ``cmp``.
``--calls``: cProfile's count of Python calls and the top functions by inclusive time.
``--setup-only``: build the input, analyse one short text and stop: run both under
``valgrind --tool=callgrind`` and subtract, to count the instructions of the analysis alone.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_rounds import page_html

from watcher.claims import ClaimProfile, analyze
from watcher.extract import extract_document

CLAIMS_DEV = Path("/work/shared/benchmarks/clinic-claims-dev/pairs.json")


def site_texts(pages: int) -> list[tuple[str, str, str | None]]:
    """(name, text, language) of the site's first versions, served as the demo site serves them."""
    found = []
    for index in range(pages):
        html = page_html(index, 1, random.Random(index))
        for marker, value in (("csrf_token", f"tok{index:05d}"), ("visitor_count", str(1000 + index))):
            html = html.replace("{{" + marker + "}}", value)
        html = html.replace("{{served_at}}", "2026-12-04T22:00:00")
        url = f"http://127.0.0.1/bench/page-{index:05d}/"
        extracted = extract_document(html.encode(), content_type="text/html; charset=utf-8", url=url)
        found.append((f"site-{index}", extracted.text, extracted.language))
    return found


def pair_texts(path: Path) -> list[tuple[str, str, str | None]]:
    if not path.exists():
        return []
    found: list[tuple[str, str, str | None]] = []
    for pair in json.loads(path.read_text(encoding="utf-8")):
        for side in ("old", "new"):
            extracted = extract_document(pair[side].encode(), content_type=None)
            found.append((f"{pair['id']}-{side}", extracted.text, None))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--pairs", type=Path, default=CLAIMS_DEV, help="clinic-claims-dev pairs.json (if present)")
    parser.add_argument("--dump", default=None)
    parser.add_argument("--calls", action="store_true")
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()
    texts = site_texts(args.pages) + pair_texts(args.pairs)
    analyze("準備。")  # the rules' first load, outside what is counted
    if args.setup_only:
        return
    profiler = cProfile.Profile() if args.calls else None
    if profiler is not None:
        profiler.enable()
    profiles: list[ClaimProfile] = [analyze(text, language) for _name, text, language in texts]
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"{len(texts)} texts, {sum(len(text) for _n, text, _l in texts)} characters")
        print(f"Python calls: {stats.total_calls:,}")  # type: ignore[attr-defined]
        stats.sort_stats("cumulative").print_stats(25)
    if args.dump:
        with Path(args.dump).open("w", encoding="utf-8") as out:
            for (name, _text, _language), profile in zip(texts, profiles, strict=True):
                out.write(name + "\t" + json.dumps(profile.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
