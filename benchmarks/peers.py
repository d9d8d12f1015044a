"""Benchmark: watcher beside urlwatch and changedetection.io on the same local site, in one run.

The site is capture_rounds.py's: N generated clinic pages served by watcher's VersionedSite on
127.0.0.1 (ETag/Last-Modified and 304s), round 2 with a share of the pages changed. Each tool gets its
own server instance (same files, own port) and its own store, and runs each round as one process:

    watcher              `watcher check --json` (politeness delay off; and once with default settings)
    urlwatch 2.29        `urlwatch --urls ... --config ... --cache ...` (stdout report)
    changedetection.io   `changedetection.py -b` (batch mode: check, then exit; 0.60.10)

For each round: wall seconds, CPU ms per page (user + system of the process tree, read from
RUSAGE_CHILDREN inside a small wrapper process so that one tool's figures never include another's),
the peak RSS of the largest process, the store's size on disk, and changes found / expected.

Peers live in their own virtual environments under benchmarks/out/ (never in watcher's):

    python3 -m venv benchmarks/out/venv-urlwatch && benchmarks/out/venv-urlwatch/bin/pip install urlwatch==2.29
    python3 -m venv benchmarks/out/venv-cdio && benchmarks/out/venv-cdio/bin/pip install changedetection.io==0.60.10
    .venv/bin/python benchmarks/peers.py --pages 500 2000

A tool whose environment is missing is reported as such and skipped (``--install`` creates them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from capture_rounds import build_site, changed_pages, database_bytes

from watcher.demo.site import VersionedSite

OUT = Path(__file__).resolve().parent / "out"
PEERS = {
    "urlwatch": (OUT / "venv-urlwatch", "urlwatch==2.29", "urlwatch"),
    "changedetection.io": (OUT / "venv-cdio", "changedetection.io==0.60.10", "changedetection.py"),
}
# Runs a command and writes its wall time and its children's rusage to the file named first.
_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[2:]).returncode
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
               "peak_rss_mib": usage.ru_maxrss / 1024}, out)
"""


@dataclass
class Round:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    disk_bytes: int
    found: int
    expected: int


@dataclass
class ToolRun:
    tool: str
    pages: int
    rounds: list[Round] = field(default_factory=list)
    note: str = ""


def measured(command: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> dict[str, float]:
    """Run ``command`` under the wrapper; its stdout goes to ``log`` (the caller parses it)."""
    stats = log.with_suffix(".rusage.json")
    with log.open("w") as out:
        subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(stats), *command],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    result: dict[str, float] = json.loads(stats.read_text())
    if result["code"] != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{command[0]} exited with {result['code']}: {' | '.join(tail)}")
    return result


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def two_rounds(
    root: Path,
    pages: int,
    expected: tuple[int, int],
    one_round: Callable[[VersionedSite, list[str], int], tuple[dict[str, float], int, int]],
) -> list[Round]:
    """Serve the site, run round 1, switch the changed pages to version 2, run round 2."""
    rounds = []
    with VersionedSite(root=root) as site:
        urls = [site.url(f"/bench/page-{i:05d}/") for i in range(pages)]
        for number in (1, 2):
            site.round = number
            stats, disk, found = one_round(site, urls, number)
            rounds.append(
                Round(
                    wall_s=stats["wall_s"],
                    cpu_s=stats["cpu_s"],
                    peak_rss_mib=stats["peak_rss_mib"],
                    disk_bytes=disk,
                    found=found,
                    expected=expected[number - 1],
                )
            )
    return rounds


def run_watcher(root: Path, work: Path, pages: int, expected: tuple[int, int], *, defaults: bool) -> list[Round]:
    db_path = work / "watcher.db"
    env = {
        **os.environ,
        "WATCHER_DATABASE_URL": f"sqlite:///{db_path}",
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_LOG_LEVEL": "WARNING",
    }
    if not defaults:
        env.update({"WATCHER_DOWNLOAD_DELAY": "0", "WATCHER_AUTOTHROTTLE": "0", "WATCHER_CONCURRENT_REQUESTS": "16"})
    cli = [sys.executable, "-m", "watcher.cli"]

    def one_round(site: VersionedSite, urls: list[str], number: int) -> tuple[dict[str, float], int, int]:
        if number == 1:
            for start in range(0, len(urls), 200):
                subprocess.run(
                    [*cli, "sources", "add", *urls[start : start + 200]], env=env, check=True, capture_output=True
                )
        log = work / f"watcher-round{number}.json"
        stats = measured([*cli, "check", "--json"], env=env, cwd=work, log=log)
        results = json.loads(log.read_text())
        return stats, database_bytes(db_path), sum(1 for row in results if row["outcome"] == "changed")

    return two_rounds(root, pages, expected, one_round)


def run_watcher_fast(root: Path, work: Path, pages: int, expected: tuple[int, int]) -> list[Round]:
    return run_watcher(root, work, pages, expected, defaults=False)


def run_watcher_defaults(root: Path, work: Path, pages: int, expected: tuple[int, int]) -> list[Round]:
    return run_watcher(root, work, pages, expected, defaults=True)


def run_urlwatch(root: Path, work: Path, pages: int, expected: tuple[int, int]) -> list[Round]:
    venv = PEERS["urlwatch"][0]
    config = work / "urlwatch.yaml"
    # Plain stdout report, one line per NEW/CHANGED job; nothing else is sent anywhere.
    config.write_text(
        "display: {new: true, error: true, unchanged: false, empty-diff: false}\n"
        "report:\n  text: {details: false, footer: false, minimal: false}\n"
        "  stdout: {enabled: true, color: false}\n",
        encoding="utf-8",
    )
    cache = work / "urlwatch-cache.db"
    jobs = work / "urls.yaml"
    hooks = work / "hooks.py"
    hooks.write_text("", encoding="utf-8")
    headline = re.compile(r"^\d+\. (NEW|CHANGED): ", re.MULTILINE)

    def one_round(site: VersionedSite, urls: list[str], number: int) -> tuple[dict[str, float], int, int]:
        if number == 1:
            jobs.write_text(
                "\n---\n".join(f"name: page {i}\nurl: {url}" for i, url in enumerate(urls)) + "\n", encoding="utf-8"
            )
        log = work / f"urlwatch-round{number}.txt"
        stats = measured(
            [
                str(venv / "bin" / "urlwatch"),
                "--urls",
                str(jobs),
                "--config",
                str(config),
                "--cache",
                str(cache),
                "--hooks",
                str(hooks),
            ],
            env={**os.environ, "HOME": str(work)},
            cwd=work,
            log=log,
        )
        return stats, tree_bytes(cache), len(headline.findall(log.read_text(errors="replace")))

    return two_rounds(root, pages, expected, one_round)


def run_changedetection(root: Path, work: Path, pages: int, expected: tuple[int, int]) -> list[Round]:
    venv = PEERS["changedetection.io"][0]
    datastore = work / "cdio-datastore"
    datastore.mkdir()
    # Its own guard refuses loopback addresses unless told otherwise (the site is on 127.0.0.1).
    env = {**os.environ, "HOME": str(work), "LOGGER_LEVEL": "WARNING", "ALLOW_IANA_RESTRICTED_ADDRESSES": "true"}
    # Batch mode refuses to start when its port is taken: give it a free one.
    port = str(_free_port())

    def one_round(site: VersionedSite, urls: list[str], number: int) -> tuple[dict[str, float], int, int]:
        command = [str(venv / "bin" / "changedetection.py"), "-d", str(datastore), "-p", port, "-h", "127.0.0.1", "-b"]
        command += [arg for url in urls for arg in ("-u", url)] if number == 1 else ["-r", "all"]
        stats = measured(command, env=env, cwd=work, log=work / f"cdio-round{number}.txt")
        # Each watch keeps a history index, one line per stored version.
        versions = [_history_lines(path) for path in datastore.glob("*/history.txt")]
        found = sum(1 for n in versions if n >= number)
        return stats, tree_bytes(datastore), found

    return two_rounds(root, pages, expected, one_round)


def _history_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.strip())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_peer(tool: str, *, install: bool) -> str:
    """'' when the tool's environment is ready, else why it is not."""
    venv, requirement, script = PEERS[tool]
    if (venv / "bin" / script).exists():
        return ""
    if not install:
        return f"not installed ({venv.relative_to(OUT.parent.parent)} missing; run with --install)"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", requirement], capture_output=True, text=True)
    if done.returncode != 0:
        return f"pip install {requirement} failed: {done.stderr.strip().splitlines()[-1:]}"
    return ""


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument(
        "--defaults-pages",
        type=int,
        default=50,
        help="pages for watcher with its default settings (2 s delay per host: 50 pages ≈ 100 s)",
    )
    parser.add_argument("--tools", nargs="+", default=["watcher", "urlwatch", "changedetection.io"])
    parser.add_argument("--install", action="store_true", help="create the peers' virtual environments if missing")
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    missing = {tool: ensure_peer(tool, install=args.install) for tool in args.tools if tool in PEERS}
    runs: list[ToolRun] = []
    print(f"load average at start: {load_average()}", file=sys.stderr)
    for pages in args.pages:
        changed = changed_pages(pages, args.changed)
        with tempfile.TemporaryDirectory(prefix="watcher-peers-") as tmp:
            root = Path(tmp) / "site"
            build_site(root, pages, args.changed)
            plans: list[tuple[str, int, Callable[[Path, Path, int, tuple[int, int]], list[Round]]]] = []
            if "watcher" in args.tools:
                plans.append(("watcher (no delay)", pages, run_watcher_fast))
            if "urlwatch" in args.tools:
                plans.append(("urlwatch 2.29", pages, run_urlwatch))
            if "changedetection.io" in args.tools:
                plans.append(("changedetection.io 0.60.10", pages, run_changedetection))
            if "watcher" in args.tools and pages == args.pages[0] and args.defaults_pages:
                plans.append(("watcher (defaults)", min(pages, args.defaults_pages), run_watcher_defaults))
            for name, n, plan in plans:
                run = ToolRun(tool=name, pages=n)
                peer = next((t for t in PEERS if name.startswith(t)), None)
                if peer and missing.get(peer):
                    run.note = missing[peer]
                else:
                    work = Path(tmp) / re.sub(r"\W+", "-", name)
                    work.mkdir()
                    expected = (n, sum(1 for i in changed if i < n))
                    try:
                        run.rounds = plan(root, work, n, expected)
                    except RuntimeError as error:
                        run.note = str(error)
                    run.note = run.note or f"load {load_average()}"
                print(f"{name} N={n}: done ({run.note})", file=sys.stderr)
                runs.append(run)
    print(render(runs))
    if args.json_path:
        args.json_path.write_text(
            json.dumps(
                [
                    {"tool": r.tool, "pages": r.pages, "note": r.note, "rounds": [vars(x) for x in r.rounds]}
                    for r in runs
                ],
                indent=2,
            )
        )


def render(runs: list[ToolRun]) -> str:
    lines = [
        "| tool | N | round | wall s | CPU ms/page | peak RSS MiB | disk MB | changes found / expected | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        if not run.rounds:
            lines.append(f"| {run.tool} | {run.pages} | — | | | | | | {run.note} |")
        for number, r in enumerate(run.rounds, 1):
            label = "1: first capture" if number == 1 else "2: 10% changed"
            lines.append(
                f"| {run.tool} | {run.pages} | {label} | {r.wall_s:.1f} | {1000 * r.cpu_s / run.pages:.1f} | "
                f"{r.peak_rss_mib:.0f} | {r.disk_bytes / 1e6:.1f} | {r.found} / {r.expected} | "
                f"{run.note if number == 1 else ''} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
