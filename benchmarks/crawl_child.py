"""Benchmark: the crawl child's cost per request, and the parent's for reading its captures.

N generated pages (capture_rounds.py's site, served by a process of its own on 127.0.0.1, or under the name
``--host localhost``, which the address guard then resolves; no politeness delay) are fetched by one
long-lived ``watcher.crawl.Crawler`` in batches of ``--batch``, as `watcher run` does: round 1 with no
validators (every page a 200 with its body), then round 2 with each page's ETag and Last-Modified from
round 1 (every page a 304). Each round runs in a child of its own, so its CPU (RUSAGE_CHILDREN, once the
child is waited for) is the round's plus one start-up; a child fed no target gives the start-up alone, which
the column "after start-up" takes off. The site's own CPU is in neither (its process is reaped last).

With ``--profile``, each child runs under ``python -m cProfile`` and the parent's reading of the captures
(``Crawler.crawl``, the decoding of each line included) under cProfile too: the figures are then Python
calls (deterministic), reported per request after the start-up's calls (a child fed no target) are taken off.

With ``--callgrind``, each round's child runs under ``valgrind --tool=callgrind`` (about 50 times slower), its
counters zeroed once the first batch is answered and dumped once the last is (``callgrind_control``): the
figure is instructions per request in the steady state (deterministic within about 2 %), without the start-up
and the first requests' one-time imports. Run a "before" export from its own directory: ``python -m spiders``
puts the working directory first on ``sys.path``.

    .venv/bin/python benchmarks/crawl_child.py --pages 500 --batch 50
    .venv/bin/python benchmarks/crawl_child.py --pages 500 --profile /tmp/prof
    .venv/bin/python benchmarks/crawl_child.py --pages 300 --callgrind /tmp/cg
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import multiprocessing.synchronize
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from capture_rounds import build_site

import watcher.crawl
from watcher.capture import Capture, FetchTarget
from watcher.config import Settings, load_settings
from watcher.crawl import Crawler
from watcher.demo.site import VersionedSite
from watcher.netguard import LOOPBACK_NETWORKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stats_calls(path: Path) -> int:
    return int(pstats.Stats(str(path)).total_calls)  # type: ignore[attr-defined]


def one_round(
    settings: Settings,
    targets: list[FetchTarget],
    *,
    batch: int,
    child_profile: Path | None,
    child_callgrind: Path | None = None,
) -> tuple[dict[str, float], list[Capture]]:
    """Fetch ``targets`` through a new long-lived child, batch after batch; the child ends with the round."""
    command, stall = watcher.crawl.crawl_command, watcher.crawl.STALL_SECONDS
    if child_profile is not None:
        profiled = [sys.executable, "-m", "cProfile", "-o", str(child_profile), "-m", "spiders"]
        watcher.crawl.crawl_command = lambda: profiled
    if child_callgrind is not None:
        traced = ["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={child_callgrind}"]
        watcher.crawl.crawl_command = lambda: [*traced, sys.executable, "-m", "spiders"]
        watcher.crawl.STALL_SECONDS = 3000.0  # valgrind's start-up alone takes minutes under load
    parent = cProfile.Profile() if child_profile is not None else None
    crawler = Crawler(settings)
    captures: list[Capture] = []
    wall, own, kids = time.perf_counter(), time.process_time(), children_cpu()
    try:
        crawler.crawl([])  # nothing: no child yet
        for start in range(0, len(targets), batch):
            if parent is not None:
                parent.enable()
            captures.extend(crawler.crawl(targets[start : start + batch]))
            if parent is not None:
                parent.disable()
            if child_callgrind is not None and start == 0:  # the steady state starts after the first batch
                callgrind_control("-z", crawler.pid)
        if child_callgrind is not None and targets:
            callgrind_control("-d", crawler.pid)
        if not targets:  # the start-up alone: a child fed nothing
            crawler._running_child()
        _close_gracefully(crawler)
    finally:
        crawler.close()
        watcher.crawl.crawl_command = command
        watcher.crawl.STALL_SECONDS = stall
    result = {
        "wall_s": time.perf_counter() - wall,
        "child_cpu_s": children_cpu() - kids,
        "parent_cpu_s": time.process_time() - own,
    }
    if parent is not None and targets:
        result["parent_calls"] = float(pstats.Stats(parent).total_calls)  # type: ignore[attr-defined]
    if child_callgrind is not None and targets:
        result["instructions"] = float(callgrind_summary(Path(f"{child_callgrind}.1")))
    return result, captures


def callgrind_control(option: str, pid: int | None) -> None:
    """Zero (-z) or dump (-d) a child's callgrind counters; vgdb delivers it when the child next runs."""
    assert pid is not None, "the round's child is running"
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def callgrind_summary(path: Path) -> int:
    """The instructions a callgrind dump holds (its "summary:" line)."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"no summary in {path}")


def _close_gracefully(crawler: Crawler) -> None:
    """End of input, then wait: the child finishes its crawl and exits (cProfile writes its file)."""
    child = crawler._child
    if child is None:
        return
    stdin = child._process.stdin
    assert stdin is not None
    with child._writing:
        stdin.close()
    for _ in iter_lines(child):
        pass
    child._process.wait(timeout=60)


def iter_lines(child: watcher.crawl._Child) -> Iterator[str | None]:
    return child.lines(stall_seconds=60.0)


def serve(root: Path, port: multiprocessing.SimpleQueue[int], stop: multiprocessing.synchronize.Event) -> None:
    """The site, in a process of its own: its CPU is not the parent's (it is reaped after the rounds)."""
    with VersionedSite(root=root) as site:
        port.put(site.port)
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--host", default="127.0.0.1", help="the site's host in the URLs (localhost: resolved)")
    parser.add_argument("--profile", metavar="DIR", type=Path, help="run under cProfile, keep the profiles in DIR")
    parser.add_argument(
        "--callgrind", metavar="DIR", type=Path, help="run each round's child under callgrind, its dumps in DIR"
    )
    args = parser.parse_args()
    settings = replace(load_settings({}), allowed_networks=LOOPBACK_NETWORKS, download_delay=0.0, autothrottle=False)
    os.environ.pop("WATCHER_DATABASE_URL", None)
    for directory in (args.profile, args.callgrind):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    if args.callgrind is not None and args.pages <= args.batch:
        parser.error("--callgrind measures the batches after the first: give more pages than --batch")
    with tempfile.TemporaryDirectory(prefix="watcher-child-") as tmp:
        root = Path(tmp) / "site"
        build_site(root, args.pages, 0.0)
        context = multiprocessing.get_context("fork")
        port: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
        stop = context.Event()
        server = context.Process(target=serve, args=(root, port, stop), daemon=True)
        server.start()
        base = f"http://{args.host}:{port.get()}"
        try:
            fresh = [FetchTarget(source_id=i + 1, url=f"{base}/bench/page-{i:05d}/") for i in range(args.pages)]

            def profile_path(name: str) -> Path | None:
                return None if args.profile is None else args.profile / f"child-{name}.prof"

            def callgrind_path(name: str) -> Path | None:
                return None if args.callgrind is None else args.callgrind / f"child-{name}.callgrind"

            rows: dict[str, dict[str, float]] = {}
            rows["start-up (no target)"], _ = one_round(
                settings, [], batch=args.batch, child_profile=profile_path("startup")
            )
            rows["1: 200 with body"], captures = one_round(
                settings,
                fresh,
                batch=args.batch,
                child_profile=profile_path("200"),
                child_callgrind=callgrind_path("200"),
            )
            assert all(capture.status == 200 for capture in captures), "round 1 should be all 200s"
            by_source = {capture.source_id: capture for capture in captures}
            conditional = [
                replace(
                    target,
                    etag=by_source[target.source_id].header("ETag"),
                    last_modified=by_source[target.source_id].header("Last-Modified"),
                )
                for target in fresh
            ]
            rows["2: all 304"], captures = one_round(
                settings,
                conditional,
                batch=args.batch,
                child_profile=profile_path("304"),
                child_callgrind=callgrind_path("304"),
            )
            assert all(capture.status == 304 for capture in captures), "round 2 should be all 304s"
        finally:
            stop.set()
            server.join()
    print(
        f"{args.pages} pages of {args.host} in batches of {args.batch}, one long-lived child per round; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    startup_calls = stats_calls(args.profile / "child-startup.prof") if args.profile is not None else 0
    print(
        "| round | wall s | child CPU s | parent CPU s | CPU ms/page (child + parent) | child CPU ms/page after start-up "
        "| child calls/request | parent calls/request |"
    )
    print("|---|---|---|---|---|---|---|---|")
    startup_cpu = rows["start-up (no target)"]["child_cpu_s"]
    for name, row in rows.items():
        pages = args.pages if not name.startswith("start") else 1
        calls = "—"
        parent_calls = "—"
        if args.profile is not None and not name.startswith("start"):
            tag = "200" if name.startswith("1") else "304"
            calls = f"{(stats_calls(args.profile / f'child-{tag}.prof') - startup_calls) / pages:,.0f}"
            parent_calls = f"{row['parent_calls'] / pages:,.0f}"
        elif args.profile is not None:
            calls = f"{startup_calls:,} (start-up)"
        print(
            f"| {name} | {row['wall_s']:.1f} | {row['child_cpu_s']:.2f} | {row['parent_cpu_s']:.2f} | "
            f"{1000 * (row['child_cpu_s'] + row['parent_cpu_s']) / pages:.2f} | "
            f"{1000 * (row['child_cpu_s'] - startup_cpu) / pages:.2f} | {calls} | {parent_calls} |"
        )
    if args.callgrind is not None:
        measured = args.pages - args.batch
        for name, row in rows.items():
            if "instructions" in row:
                print(
                    f"{name}: {row['instructions'] / measured / 1e6:.3f} M instructions per request (callgrind, "
                    f"the {measured} requests after the first batch)"
                )


if __name__ == "__main__":
    main()
