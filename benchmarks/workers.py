"""Benchmark: checks per minute with 1, 2 and 4 queue workers (``WATCHER_EXECUTOR=queue``) on a
many-host local site, and the local executor for reference.

Serves HOSTS × PAGES pages from watcher's own VersionedSite, one server per loopback host
(127.0.1.1, 127.0.1.2, …: distinct hosts, so the per-host politeness applies to each separately),
on a fresh PostgreSQL database per run (created and dropped through ``--admin-url``). For each worker
count it starts the real ``watcher run`` and N real ``watcher worker`` processes, waits until the
workers are registered, makes every source due at once, and times until every source has its check;
checks per minute = sources / that time. The local executor's row is the real ``watcher run --once``
(one process, one crawl subprocess for everything, Scrapy's concurrency across hosts).

    .venv/bin/python benchmarks/workers.py --hosts 16 --pages 4 --delay 0.25 --workers 1,2,4

Politeness: ``WATCHER_DOWNLOAD_DELAY`` (× 0.5–1.5) between requests to one host, AutoThrottle off.
Every worker on this one machine shares its two cores: the figures show the engine's overhead and
how the jobs spread, not what N machines would do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy import func, select, text, update

from watcher.db import Store
from watcher.demo.site import VersionedSite
from watcher.models import Check, Source, utcnow
from watcher.sources import SourceSpec, add_sources

REPO = Path(__file__).resolve().parent.parent
PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title></head><body><main>
<h1>{title}</h1>{paragraphs}</main></body></html>"""
TIMEOUT_SECONDS = 1800.0
LEADER_HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@contextlib.contextmanager
def database(admin_url: str) -> Iterator[str]:
    name = f"watcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def sites(root: Path, hosts: int, pages: int) -> Iterator[list[VersionedSite]]:
    with contextlib.ExitStack() as stack:
        started = []
        for h in range(hosts):
            folder = root / f"h{h}"
            for p in range(pages):
                (folder / f"p{p}").mkdir(parents=True)
                title = f"クリニック {h} ページ {p}"
                paragraphs = "".join(
                    f"<p>当院の幹細胞培養上清液点滴は、うつ病の症状の改善が期待されています（{h}-{p}-{n}）。</p>"
                    for n in range(10)
                )
                (folder / f"p{p}" / "1.html").write_text(PAGE.format(title=title, paragraphs=paragraphs), "utf-8")
            started.append(stack.enter_context(VersionedSite(root=folder, host=f"127.0.1.{h + 1}")))
        yield started


def environment(database_url: str, data_dir: Path, delay: float) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHER_")}
    return {
        **env,
        "WATCHER_DATABASE_URL": database_url,
        "WATCHER_DATA_DIR": str(data_dir),
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_DOWNLOAD_DELAY": str(delay),
        "WATCHER_AUTOTHROTTLE": "0",
        "WATCHER_RETRY_TIMES": "0",
        "WATCHER_SCHEDULER_JITTER": "0",
        "WATCHER_LOG_LEVEL": "WARNING",
    }


def watch(store: Store, started: list[VersionedSite], pages: int) -> int:
    specs = [SourceSpec(url=site.url(f"/p{p}/"), interval_seconds=86400) for site in started for p in range(pages)]
    with store.session() as session:
        add_sources(session, specs)
    return len(specs)


def checked(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count(func.distinct(Check.source_id)))) or 0


def wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "watcher.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stream,
            start_new_session=True,
        )


def queue_run(
    admin_url: str, root: Path, started: list[VersionedSite], pages: int, delay: float, n: int, concurrency: int
) -> float:
    """Seconds until every source is checked once with ``n`` workers of ``concurrency`` jobs each."""
    with database(admin_url) as url:
        env = {**environment(url, root, delay), "WATCHER_EXECUTOR": "queue"}
        subprocess.run(
            [sys.executable, "-m", "watcher.cli", "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True
        )
        store = Store(url)
        sources = watch(store, started, pages)
        with store.session() as session:  # not due until every process is up
            session.execute(update(Source).values(next_due_at=utcnow().replace(year=2100)))
        command = ["worker", "--concurrency", str(concurrency)]
        processes = [spawn(command, env, root / f"worker-{n}-{i}.log") for i in range(n)]
        try:

            def registered() -> bool:
                with store.session() as session:
                    return (session.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0) == n

            wait(registered, f"{n} worker(s) to register")
            processes.append(spawn(["run", "--tick", "0.2"], env, root / f"run-{n}.log"))

            def leading() -> bool:  # the scheduler is up: it holds its advisory lock on this database
                with store.session() as session:
                    return bool(session.scalar(text(LEADER_HELD)))

            wait(leading, "the scheduler to start")
            started_at = time.monotonic()
            with store.session() as session:
                session.execute(update(Source).values(next_due_at=utcnow()))
            wait(lambda: checked(store) == sources, "every source checked")
            return time.monotonic() - started_at
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            store.dispose()


def local_run(admin_url: str, root: Path, started: list[VersionedSite], pages: int, delay: float) -> float:
    with database(admin_url) as url:
        env = environment(url, root, delay)
        store = Store(url)
        watch(store, started, pages)
        store.dispose()
        started_at = time.monotonic()
        subprocess.run([sys.executable, "-m", "watcher.cli", "run", "--once"], env=env, cwd=REPO, check=True)
        return time.monotonic() - started_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--pages", type=int, default=4, help="pages per host")
    parser.add_argument("--delay", type=float, default=0.25, help="WATCHER_DOWNLOAD_DELAY, seconds")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="jobs at once per worker (watcher worker --concurrency)"
    )
    parser.add_argument("--no-local", action="store_true", help="skip the local executor's row")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("WATCHER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    sources = args.hosts * args.pages
    print(
        f"{args.hosts} hosts x {args.pages} pages = {sources} sources, delay {args.delay:g} s, {os.cpu_count()} CPU(s)"
    )
    print("| executor | workers × jobs at once | seconds | checks per minute |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder, sites(Path(folder), args.hosts, args.pages) as started:
        if not args.no_local:
            seconds = local_run(args.admin_url, Path(folder), started, args.pages, args.delay)
            print(
                f"| local (`watcher run --once`) | 1 process | {seconds:.1f} | {sources / seconds * 60:.0f} |",
                flush=True,
            )
        for n in counts:
            seconds = queue_run(args.admin_url, Path(folder), started, args.pages, args.delay, n, args.concurrency)
            print(f"| queue | {n} × {args.concurrency} | {seconds:.1f} | {sources / seconds * 60:.0f} |", flush=True)


if __name__ == "__main__":
    main()
