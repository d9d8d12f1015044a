"""Benchmark: watcher beside urlwatch and changedetection.io on the same local site, in one run.

The site is capture_rounds.py's: N generated clinic pages served by watcher's VersionedSite on
127.0.0.1 (ETag/Last-Modified and 304s), round 2 with a share of the pages changed. Each tool gets its
own server instance (same files, own port) and its own store, and runs each round as one process:

    watcher              `watcher check --json` (politeness delay off; and once with default settings)
    watcher run          the service: one long-running `watcher run` (local executor, delay off), each
                         round triggered by making every source due; CPU of its process tree between
                         the round's trigger and its last check, so its start-up is left out
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
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from capture_rounds import build_real_site, build_site, changed_pages, database_bytes

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
    expected: tuple[int, ...],
    one_round: Callable[[VersionedSite, list[str], int], tuple[dict[str, float], int, int]],
) -> list[Round]:
    """Serve the site, run round 1, switch the changed pages to version 2, run round 2 (and, with a
    third expected figure, round 3: nothing changed since round 2, every page a 304)."""
    rounds = []
    with VersionedSite(root=root) as site:
        urls = [site.url(f"/bench/page-{i:05d}/") for i in range(pages)]
        for number in range(1, len(expected) + 1):
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


# `watcher run`'s INFO line per run: "run 3: 50 check(s) in 1.2 s (changed 5, unchanged 45); ..."
_RUN_LINE = re.compile(r" run \d+: (\d+) check\(s\) in [0-9.]+ s(?: \(([^)]*)\))?[^\n]*\n")
SERVICE_TICK = "1"  # seconds between the service's looks for due sources (a round waits at most this for its start)
SERVICE_WAIT_SECONDS = 900.0  # longest wait for start-up, and for a round of up to 1,000 pages, before giving up


def run_watcher_service(root: Path, work: Path, pages: int, expected: tuple[int, int]) -> list[Round]:
    """`watcher run` as deployed (local executor, SQLite), no politeness delay like the no-delay rows;
    the two rounds of every tool, then a third with nothing changed (the steady state: all 304s).

    The sources are added before the service starts, not due (so its start-up is idle); a round is
    started by setting every source's next due time to NULL (what an elapsed interval does) and is over
    when the service's run lines add up to one check per source. CPU is user + system of the run
    process and its descendants (the long-lived crawl child), children already reaped included, read
    from /proc at the trigger and at the end; peak RSS is the largest process's VmHWM, reset at the
    trigger (/proc/PID/clear_refs), so each round shows its own peak."""
    db_path = work / "watcher.db"
    env = {
        **os.environ,
        "WATCHER_DATABASE_URL": f"sqlite:///{db_path}",
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_LOG_LEVEL": "INFO",
        "WATCHER_DOWNLOAD_DELAY": "0",
        "WATCHER_AUTOTHROTTLE": "0",
        "WATCHER_CONCURRENT_REQUESTS": "16",
    }
    cli = [sys.executable, "-m", "watcher.cli"]
    log_path = work / "watcher-run.log"
    service: subprocess.Popen[bytes] | None = None
    read_from = 0

    def one_round(site: VersionedSite, urls: list[str], number: int) -> tuple[dict[str, float], int, int]:
        nonlocal service, read_from
        if number == 1:
            for start in range(0, len(urls), 200):
                subprocess.run(
                    [*cli, "sources", "add", *urls[start : start + 200]], env=env, check=True, capture_output=True
                )
            _set_due(db_path, "2999-01-01 00:00:00.000000")  # nothing due while the service starts
            with log_path.open("wb") as out:
                service = subprocess.Popen(
                    [*cli, "run", "--tick", SERVICE_TICK], env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT
                )
            _wait_for(lambda: "watcher run: " in log_path.read_text(errors="replace"), "the service's start")
            _wait_for(lambda: _settled(service.pid), "the service to settle after its start")
        assert service is not None
        if service.poll() is not None:
            raise RuntimeError(f"watcher run exited with {service.returncode}: {_tail(log_path)}")
        pids = _tree(service.pid)
        for pid in pids:
            _reset_peak(pid)
        cpu_before = _tree_cpu(service.pid)
        started = time.perf_counter()
        _set_due(db_path, None)
        checks, changed = 0, 0

        def round_done() -> bool:
            nonlocal checks, changed, read_from
            text = log_path.read_text(errors="replace")
            for match in _RUN_LINE.finditer(text, read_from):
                checks += int(match.group(1))
                outcomes = dict(part.rsplit(" ", 1) for part in (match.group(2) or "").split(", ") if part)
                changed += int(outcomes.get("changed", 0))
                read_from = match.end()
            if service.poll() is not None:
                raise RuntimeError(f"watcher run exited with {service.returncode}: {_tail(log_path)}")
            return checks >= len(urls)

        _wait_for(round_done, f"round {number}", pages=len(urls))
        wall = time.perf_counter() - started
        cpu = _tree_cpu(service.pid) - cpu_before
        peak = max(_peak_rss_mib(pid) for pid in _tree(service.pid) | pids)
        if number == 3:
            _stop(service)
        return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak}, database_bytes(db_path), changed

    try:
        return two_rounds(root, pages, (*expected, 0), one_round)
    finally:
        if service is not None and service.poll() is None:
            _stop(service)


def _set_due(db_path: Path, when: str | None) -> None:
    connection = sqlite3.connect(db_path, timeout=60)
    try:
        with connection:
            connection.execute("UPDATE sources SET next_due_at = ?", (when,))
    finally:
        connection.close()


def _wait_for(condition: Callable[[], bool], what: str, *, pages: int = 0) -> None:
    bound = SERVICE_WAIT_SECONDS * max(1.0, pages / 1000)
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {bound:.0f} s")
        time.sleep(0.05)


def _settled(pid: int) -> bool:
    """True once the process tree used under 20 ms of CPU over a quarter of a second (start-up over)."""
    before = _tree_cpu(pid)
    time.sleep(0.25)
    return _tree_cpu(pid) - before < 0.02


def _tail(path: Path) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _tree(root: int) -> set[int]:
    """``root`` and its live descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    tree = {root}
    grown = True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    return tree


def _tree_cpu(root: int) -> float:
    """User + system seconds of the tree: each live process's own and its reaped children's."""
    ticks = 0
    for pid in _tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):  # then the peak is since the process started
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _peak_rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def _stop(service: subprocess.Popen[bytes]) -> None:
    service.send_signal(signal.SIGTERM)
    try:
        service.wait(timeout=60)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()


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
    parser.add_argument(
        "--tools",
        nargs="+",
        default=["watcher", "urlwatch", "changedetection.io"],
        help="watcher (both rows), watcher-check, watcher-run, urlwatch, changedetection.io",
    )
    parser.add_argument("--install", action="store_true", help="create the peers' virtual environments if missing")
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--real-pages",
        type=Path,
        help="instead of generated pages, the *.html.gz pages of this folder (all of them; --pages is ignored), "
        "e.g. ../shared/benchmarks/article-extraction/html",
    )
    args = parser.parse_args()
    missing = {tool: ensure_peer(tool, install=args.install) for tool in args.tools if tool in PEERS}
    runs: list[ToolRun] = []
    print(f"load average at start: {load_average()}", file=sys.stderr)
    for size in [0] if args.real_pages else args.pages:
        with tempfile.TemporaryDirectory(prefix="watcher-peers-") as tmp:
            root = Path(tmp) / "site"
            if args.real_pages:
                pages = build_real_site(root, args.real_pages, args.changed)
            else:
                pages = size
                build_site(root, pages, args.changed)
            changed = changed_pages(pages, args.changed)
            plans: list[tuple[str, int, Callable[[Path, Path, int, tuple[int, int]], list[Round]]]] = []
            if {"watcher", "watcher-check"} & set(args.tools):
                plans.append(("watcher check (no delay)", pages, run_watcher_fast))
            if {"watcher", "watcher-run"} & set(args.tools):
                plans.append(("watcher run, service (no delay)", pages, run_watcher_service))
            if "urlwatch" in args.tools:
                plans.append(("urlwatch 2.29", pages, run_urlwatch))
            if "changedetection.io" in args.tools:
                plans.append(("changedetection.io 0.60.10", pages, run_changedetection))
            if {"watcher", "watcher-check"} & set(args.tools) and size == args.pages[0] and args.defaults_pages:
                plans.append(("watcher check (defaults)", min(pages, args.defaults_pages), run_watcher_defaults))
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


ROUND_LABELS = ("1: first capture", "2: 10% changed", "3: none changed (304s)")


def render(runs: list[ToolRun]) -> str:
    lines = [
        "| tool | N | round | wall s | CPU ms/page | peak RSS MiB | disk MB | changes found / expected | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        if not run.rounds:
            lines.append(f"| {run.tool} | {run.pages} | — | | | | | | {run.note} |")
        for number, r in enumerate(run.rounds, 1):
            label = ROUND_LABELS[number - 1]
            lines.append(
                f"| {run.tool} | {run.pages} | {label} | {r.wall_s:.1f} | {1000 * r.cpu_s / run.pages:.1f} | "
                f"{r.peak_rss_mib:.0f} | {r.disk_bytes / 1e6:.1f} | {r.found} / {r.expected} | "
                f"{run.note if number == 1 else ''} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
