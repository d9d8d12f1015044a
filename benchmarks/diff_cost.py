"""Benchmark: the CPU cost of the stored line-aligned diff (`watcher.changes.diff_texts`) of changed pages.

Page pairs, each extracted by watcher's own extractor (the texts a capture diffs):

- ``site``: the changed pages of capture_rounds.py's generated site (the 10 % of N pages that get a second
  version; every paragraph of such a page differs), as `benchmarks/peers.py` serves them;
- ``demo site``: each page's consecutive versions in seeds/demo_site (`watcher demo`'s site);
- ``claims``: the old/new page pairs of clinic-claims-dev (read from ``--claims-dev``, not copied).

Each pair is diffed ``--repeat`` times; the best time of each pair counts. Prints ms per changed page
(mean and the slowest pair) for each set. ``--save FILE`` writes every pair's rows and ops as JSON and
``--compare FILE`` checks them against such a file (the same output before and after a change):

    .venv/bin/python benchmarks/diff_cost.py --pages 500 2000 --repeat 3
    .venv/bin/python benchmarks/diff_cost.py --pages 2000 --save before.json   # on the old code
    .venv/bin/python benchmarks/diff_cost.py --pages 2000 --compare before.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_rounds import changed_pages, page_html

from watcher.changes import diff_texts
from watcher.extract import extract_document

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLAIMS_DEV = REPO_ROOT.parent / "shared" / "benchmarks" / "clinic-claims-dev"


def served(html: str, visitors: int) -> bytes:
    """The page as VersionedSite serves it (its per-request placeholders filled)."""
    return (
        html.replace("{{csrf_token}}", f"{visitors:032x}")
        .replace("{{visitor_count}}", str(visitors))
        .replace("{{served_at}}", f"2026-12-03T10:{visitors % 60:02d}:00.000000+00:00")
        .encode()
    )


def text_of(body: bytes, content_type: str) -> str:
    return extract_document(body, content_type=content_type).text


def site_pairs(pages: int) -> list[tuple[str, str, str]]:
    pairs = []
    for index in sorted(changed_pages(pages, 0.10)):
        old = text_of(served(page_html(index, 1, random.Random(index)), 1000 + index), "text/html; charset=utf-8")
        new = text_of(served(page_html(index, 2, random.Random(index)), 2000 + index), "text/html; charset=utf-8")
        pairs.append((f"site-{pages}/{index}", old, new))
    return pairs


def demo_pairs(root: Path) -> list[tuple[str, str, str]]:
    """Each demo page's consecutive versions (seeds/demo_site: ``<n>.html`` files in a page folder)."""
    pairs = []
    for folder in sorted({path.parent for path in root.rglob("*.html") if path.stem.split(".")[0].isdigit()}):
        versions = sorted(folder.glob("*.html"), key=lambda path: int(path.stem.split(".")[0]))
        texts = [
            text_of(served(path.read_text(encoding="utf-8", errors="replace"), 1), "text/html") for path in versions
        ]
        for number, (old, new) in enumerate(itertools.pairwise(texts), start=1):
            pairs.append((f"demo/{folder.relative_to(root)}/{number}", old, new))
    return pairs


def claims_pairs(folder: Path) -> list[tuple[str, str, str]]:
    pairs = []
    for pair in json.loads((folder / "pairs.json").read_text(encoding="utf-8")):
        kind = "text/html; charset=utf-8" if pair["format"] == "html" else "text/plain; charset=utf-8"
        pairs.append((f"claims/{pair['id']}", text_of(pair["old"].encode(), kind), text_of(pair["new"].encode(), kind)))
    return pairs


def output_of(old: str, new: str, timeout: float) -> dict[str, Any]:
    diff = diff_texts(old, new, timeout=timeout)
    return {
        "ops": diff.ops,
        "rows": [[row.old_number, row.new_number, row.ops] for row in diff.lines],
        "inserted": diff.inserted_chars,
        "deleted": diff.deleted_chars,
    }


def timed(pairs: list[tuple[str, str, str]], repeat: int, timeout: float) -> list[float]:
    best = []
    for _, old, new in pairs:
        times = []
        for _ in range(repeat):
            started = time.process_time()
            diff_texts(old, new, timeout=timeout)
            times.append(time.process_time() - started)
        best.append(min(times))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, nargs="+", default=[500, 2000], help="site sizes (10 %% changed)")
    parser.add_argument("--claims-dev", type=Path, default=DEFAULT_CLAIMS_DEV, help="clinic-claims-dev folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs per pair; the best counts")
    parser.add_argument("--timeout", type=float, default=2.0, help="diff_texts' timeout (the default setting)")
    parser.add_argument("--save", type=Path, help="write every pair's diff output as JSON")
    parser.add_argument("--compare", type=Path, help="compare every pair's diff output with a saved file")
    args = parser.parse_args()

    sets: dict[str, list[tuple[str, str, str]]] = {f"site, N = {n}": site_pairs(n) for n in args.pages}
    sets["demo site"] = demo_pairs(REPO_ROOT / "seeds" / "demo_site")
    if (args.claims_dev / "pairs.json").exists():
        sets["clinic-claims-dev"] = claims_pairs(args.claims_dev)
    else:
        print(f"no pairs.json in {args.claims_dev}: clinic-claims-dev left out", file=sys.stderr)

    print("| pairs | count | changed lines per pair | ms per pair (mean) | slowest ms | total s |")
    print("|---|---|---|---|---|---|")
    for name, pairs in sets.items():
        best = timed(pairs, args.repeat, args.timeout)
        rows = sum(sum(1 for row in diff_texts(old, new).lines if row.changed) for _, old, new in pairs)
        print(
            f"| {name} | {len(pairs)} | {rows / max(len(pairs), 1):.1f} | {1000 * sum(best) / max(len(best), 1):.2f}"
            f" | {1000 * max(best, default=0):.2f} | {sum(best):.2f} |"
        )

    if args.save or args.compare:
        outputs = {key: output_of(old, new, args.timeout) for pairs in sets.values() for key, old, new in pairs}
        if args.save:
            args.save.write_text(json.dumps(outputs, ensure_ascii=False), encoding="utf-8")
            print(f"saved {len(outputs)} pairs' output to {args.save}")
        if args.compare:
            saved = json.loads(args.compare.read_text(encoding="utf-8"))
            now = json.loads(json.dumps(outputs, ensure_ascii=False))
            differ = sorted(key for key in now if key in saved and saved[key] != now[key])
            print(f"compared {sum(key in saved for key in now)} pairs: {len(differ)} differ {differ[:10]}")


if __name__ == "__main__":
    main()
