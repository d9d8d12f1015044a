"""Benchmark: the crawl of `watcher run`, a child per batch against one long-lived child (``Crawler``).

N generated pages (capture_rounds.py's site, on 127.0.0.1, no politeness delay) are fetched in batches
of ``--batch`` targets, as the service's batches of due sources are, first with a new crawl child per
batch (``watcher.crawl.crawl``, what `watcher run` did), then through one ``watcher.crawl.Crawler``
kept for all batches. Reported: wall seconds, CPU seconds of the crawl children (RUSAGE_CHILDREN) and
of this process (reading the captures), and CPU ms per page; the best of ``--repeat`` runs.

    .venv/bin/python benchmarks/crawl_batches.py --pages 500 --batch 50
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from capture_rounds import build_site

from watcher.capture import Capture, FetchTarget
from watcher.config import load_settings
from watcher.crawl import Crawler, crawl
from watcher.demo.site import VersionedSite
from watcher.netguard import LOOPBACK_NETWORKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    batches: Sequence[list[FetchTarget]],
    fetch: Callable[[list[FetchTarget]], Iterable[Capture]],
    finish: Callable[[], None] = lambda: None,
) -> dict[str, float]:
    """``finish`` ends what still runs: RUSAGE_CHILDREN counts a child once it has been waited for."""
    wall, own, kids = time.perf_counter(), time.process_time(), children_cpu()
    count = sum(1 for batch in batches for capture in fetch(batch) if capture.status == 200)
    finish()
    return {
        "wall_s": time.perf_counter() - wall,
        "children_cpu_s": children_cpu() - kids,
        "parent_cpu_s": time.process_time() - own,
        "ok": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = replace(load_settings({}), allowed_networks=LOOPBACK_NETWORKS, download_delay=0.0, autothrottle=False)
    os.environ.pop("WATCHER_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="watcher-batches-") as tmp:
        root = Path(tmp) / "site"
        build_site(root, args.pages, 0.0)
        with VersionedSite(root=root) as site:
            targets = [FetchTarget(source_id=i + 1, url=site.url(f"/bench/page-{i:05d}/")) for i in range(args.pages)]
            batches = [targets[start : start + args.batch] for start in range(0, len(targets), args.batch)]
            results: dict[str, list[dict[str, float]]] = {"a child per batch": [], "one long-lived child": []}
            for _ in range(args.repeat):
                results["a child per batch"].append(timed(batches, lambda batch: crawl(batch, settings=settings)))
                crawler = Crawler(settings)
                try:
                    results["one long-lived child"].append(timed(batches, crawler.crawl, crawler.close))
                finally:
                    crawler.close()
    print(f"{args.pages} pages in batches of {args.batch}, best of {args.repeat} (by total CPU)")
    print("| crawl | wall s | children CPU s | parent CPU s | CPU ms/page | pages fetched |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        best = min(runs, key=lambda r: r["children_cpu_s"] + r["parent_cpu_s"])
        total = best["children_cpu_s"] + best["parent_cpu_s"]
        print(
            f"| {name} | {best['wall_s']:.1f} | {best['children_cpu_s']:.2f} | {best['parent_cpu_s']:.2f} | "
            f"{1000 * total / args.pages:.2f} | {best['ok']:.0f} |"
        )


if __name__ == "__main__":
    main()
