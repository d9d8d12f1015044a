"""Benchmark: the service's rounds in one process, parent and crawl child apart, with deterministic counts.

Runs `watcher run`'s code (``watcher.scheduler.Service.run_due`` with one kept ``watcher.crawl.Crawler``,
as ``serve()`` does) on capture_rounds.py's site: round 1 first captures, round 2 with 10 % of the pages
changed, round 3 nothing changed (all 304s). For each round: the parent's CPU seconds
(``time.process_time``), the crawl child's (``/proc/PID/stat``), the SQL statements the parent sent, and
with ``--calls`` the parent's Python calls (cProfile, a separate figure: the profiler slows the round).

``--dump FILE`` writes what the rounds stored, independent of ids and capture times (per page URL: its
text versions, diffs, claim profiles, alerts, passage intervals and indication steps, with snapshots
named by their place in the page's chain), so that two branches' stores compare with ``cmp``.

    .venv/bin/python benchmarks/service_rounds.py --pages 500 [--database-url URL] [--calls] [--dump FILE]

``--database-url postgresql://postgres@127.0.0.1:5432/postgres`` creates a scratch database there and
drops it after.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_rounds import build_site
from sqlalchemy import create_engine, event, select, text, update

from watcher.config import load_settings
from watcher.crawl import Crawler
from watcher.db import Store
from watcher.models import (
    Alert,
    Change,
    ClaimProfileRecord,
    IndicationStep,
    Snapshot,
    Source,
    TextVersion,
)
from watcher.pipeline.passages import source_intervals
from watcher.scheduler import Service
from watcher.sources import SourceSpec, add_sources

# The site runs in a process of its own, so that its CPU is not counted as the service's.
_SITE = """
import sys
from pathlib import Path
from watcher.demo.site import VersionedSite
with VersionedSite(root=Path(sys.argv[1])) as site:
    print(site.url("/"), flush=True)
    for line in sys.stdin:
        site.round = int(line)
        print("ok", flush=True)
"""


class SiteProcess:
    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SITE, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.base = self.process.stdout.readline().strip().rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def set_round(self, number: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{number}\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def spy_on(path: str) -> subprocess.Popen[bytes]:
    """py-spy sampling this process (200 Hz, raw stacks) until it gets SIGINT."""
    log = Path(path + ".log")
    with log.open("wb") as out:
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                path,
                "--pid",
                str(os.getpid()),
            ],
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + 60
    while b"Sampling" not in log.read_bytes() and spy.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return spy


def child_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def scratch_database(url: str | None, folder: Path) -> Iterator[str]:
    if url is None or not url.startswith("postgresql"):
        yield url or f"sqlite:///{folder / 'watcher.db'}"
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def dump(store: Store) -> dict[str, Any]:
    """What the rounds stored, per source URL path (the site's port differs), without ids or times."""
    out: dict[str, Any] = {}
    with store.session() as session:
        urls = dict(session.execute(select(Source.id, Source.url)).all())
        chain: dict[int, int] = {}  # snapshot id -> place in its source's chain
        for source_id in urls:
            ids = session.scalars(
                select(Snapshot.id).where(Snapshot.source_id == source_id).order_by(Snapshot.fetched_at, Snapshot.id)
            ).all()
            chain.update((sid, n) for n, sid in enumerate(ids))
        tv_place = {tv.id: chain[tv.snapshot_id] for tv in session.scalars(select(TextVersion))}
        for source_id, url in urls.items():
            entry: dict[str, list[Any]] = {
                "versions": [],
                "changes": [],
                "profiles": [],
                "alerts": [],
                "occurrences": [],
                "steps": [],
            }
            out[urlsplit(url).path] = entry
            for tv in session.scalars(select(TextVersion).where(TextVersion.source_id == source_id)):
                entry["versions"].append([tv_place[tv.id], tv.text_sha256, tv.title, tv.language, tv.extraction_doubt])
            for ch in session.scalars(select(Change).where(Change.source_id == source_id)):
                entry["changes"].append(
                    [
                        tv_place[ch.old_version_id],
                        tv_place[ch.new_version_id],
                        ch.inserted_chars,
                        ch.deleted_chars,
                        ch.ops,
                    ]
                )
            for pr in session.scalars(select(ClaimProfileRecord).where(ClaimProfileRecord.source_id == source_id)):
                entry["profiles"].append(
                    [tv_place[pr.text_version_id], pr.analyser_version, pr.profile, pr.indications, pr.reference_count]
                )
            for al in session.scalars(select(Alert).where(Alert.source_id == source_id)):
                details = {k: v for k, v in (al.details or {}).items() if not k.endswith("_id")}
                entry["alerts"].append(
                    [
                        al.kind,
                        al.severity,
                        al.indication,
                        al.reference,
                        al.strength_before,
                        al.strength_after,
                        al.before,
                        al.after,
                        chain.get(al.old_snapshot_id or -1),
                        chain[al.new_snapshot_id],
                        al.dedupe_key,
                        al.occurrences,
                        chain.get(al.last_snapshot_id or -1),
                        al.categories,
                        details,
                    ]
                )
            for interval in source_intervals(session, source_id):
                entry["occurrences"].append(
                    [
                        interval.line,
                        chain[interval.first_snapshot_id],
                        chain[interval.last_snapshot_id],
                        interval.versions,
                        chain.get(interval.gone_snapshot_id or -1),
                        interval.gone_at is None,
                    ]
                )
            for step in session.scalars(select(IndicationStep).where(IndicationStep.source_id == source_id)):
                entry["steps"].append(
                    [
                        step.indication,
                        chain[step.snapshot_id],
                        step.strength,
                        chain.get(step.previous_snapshot_id or -1),
                    ]
                )
            for values in entry.values():
                values.sort(key=lambda item: json.dumps(item, sort_keys=True, ensure_ascii=False, default=str))
    return out


def callgrind(command: str) -> None:
    """Ask the callgrind this process runs under to zero or dump its counts (``callgrind_control``), and
    wait until it has. Callgrind reads the request while this process runs code: the wait wakes every
    5 ms (a few instructions each, counted; a busy loop here added ~2 M to a round's count)."""
    control = subprocess.Popen(
        ["callgrind_control", command, str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while control.poll() is None:
        time.sleep(0.005)
    if control.returncode != 0:
        raise SystemExit(f"callgrind_control {command} failed: is this run under valgrind --tool=callgrind?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--calls", action="store_true", help="cProfile the parent's rounds 2 and 3 (call counts)")
    parser.add_argument(
        "--profile-out",
        default=None,
        help="write round 2's cProfile stats here, round 3's to this name + '.round3' (with --calls)",
    )
    parser.add_argument("--spy", default=None, help="py-spy raw profile of the parent during round 2 only, here")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under valgrind --tool=callgrind: zero the counts before rounds 2 and 3 and dump them after each",
    )
    parser.add_argument("--sql-log", default=None, help="round 2's SQL statements, counted, here")
    parser.add_argument("--dump", default=None, help="write the stored rows (ids and times left out) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="service-rounds-") as tmp:
        folder = Path(tmp)
        build_site(folder / "site", args.pages, args.changed)
        with scratch_database(args.database_url, folder) as url:
            os.environ.update(
                {
                    "WATCHER_DATABASE_URL": url,
                    "WATCHER_DATA_DIR": str(folder / "data"),
                    "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
                    "WATCHER_LOG_LEVEL": "WARNING",
                    "WATCHER_DOWNLOAD_DELAY": "0",
                    "WATCHER_AUTOTHROTTLE": "0",
                    "WATCHER_CONCURRENT_REQUESTS": "16",
                }
            )
            settings = load_settings()
            store = Store(url)
            statements = 0
            sql_log: list[str] | None = None

            @event.listens_for(store.engine, "before_cursor_execute")
            def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                nonlocal statements
                statements += 1
                if sql_log is not None:
                    sql_log.append(statement)

            service = Service(store, settings)
            service.crawler = Crawler(settings)
            try:
                site = SiteProcess(folder / "site")
                try:
                    with store.session() as session:
                        add_sources(
                            session, [SourceSpec(url=site.url(f"/bench/page-{i:05d}/")) for i in range(args.pages)]
                        )
                    for number in (1, 2, 3):
                        site.set_round(number)
                        with store.session() as session:
                            session.execute(update(Source).values(next_due_at=None))
                        if args.callgrind and number > 1:
                            callgrind("--zero")
                        profiler = cProfile.Profile() if args.calls and number > 1 else None
                        statements = 0
                        sql_log = [] if args.sql_log and number == 2 else None
                        child_before = child_cpu(service.crawler.pid)
                        cpu, wall = time.process_time(), time.perf_counter()
                        outcomes: dict[str, int] = {}
                        if profiler is not None:
                            profiler.enable()
                        spy = spy_on(args.spy) if args.spy and number == 2 else None
                        while (report := service.run_due()) is not None:
                            for key, value in report.outcomes.items():
                                outcomes[key] = outcomes.get(key, 0) + value
                        if profiler is not None:
                            profiler.disable()
                        if spy is not None:
                            spy.send_signal(signal.SIGINT)
                            spy.wait()
                        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                        if args.callgrind and number > 1:
                            callgrind(f"--dump=round{number}")
                        child = child_cpu(service.crawler.pid) - (child_before if number > 1 else 0.0)
                        line = (
                            f"round {number}: parent {cpu:.2f} s CPU ({cpu / args.pages * 1000:.2f} ms/page), "
                            f"child {child:.2f} s, wall {wall:.1f} s, {statements} SQL statements, {outcomes}"
                        )
                        if profiler is not None:
                            stats = pstats.Stats(profiler)
                            line += f", {stats.total_calls} Python calls"  # type: ignore[attr-defined]
                            if args.profile_out:
                                stats.dump_stats(args.profile_out + ("" if number == 2 else ".round3"))
                        if sql_log is not None:
                            counts = Counter(" ".join(statement.split()) for statement in sql_log)
                            Path(args.sql_log).write_text(
                                "".join(f"{n:6d} {statement[:300]}\n" for statement, n in counts.most_common())
                            )
                        print(line, f"(load {os.getloadavg()[0]:.1f})", flush=True)
                finally:
                    site.close()
                if args.dump:
                    Path(args.dump).write_text(
                        json.dumps(dump(store), sort_keys=True, ensure_ascii=False, default=str, indent=0)
                    )
            finally:
                service.crawler.close()
                store.dispose()


if __name__ == "__main__":
    main()
