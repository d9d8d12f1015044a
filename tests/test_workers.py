"""The queue executor (``WATCHER_EXECUTOR=queue``) on real PostgreSQL: the real ``watcher run`` and three
real ``watcher worker`` processes, a site of four hosts (127.0.0.2–127.0.0.5 are distinct loopback
hosts, each its own server that measures what it serves), real SMTP; one worker SIGKILLed mid-crawl.
Every due source is checked, none twice in one period, no two requests to one host overlap, the gaps
between a host's requests keep the download delay × (1 − jitter), no row is duplicated, and every
alert is mailed once. Also: one scheduler active at a time, the crawl child dies with its worker, and
the settings' one-line errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from test_faults import count, duplicates, orphans, service_env, write_site
from waiting import STARTUP_SECONDS, children, is_running, spawn, wait_for

from watcher.config import check_executor, load_settings
from watcher.db import Store
from watcher.demo.sink import MailSink
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.errors import ConfigError
from watcher.models import Alert, Check, Delivery, Snapshot, Source, utcnow
from watcher.queue import DELAY_JITTER, TASK, Leadership, QueueDispatcher, host_of
from watcher.scheduler import RunReport
from watcher.sources import SourceSpec, add_sources
from watcher.subscriptions import SubscriptionSpec, create_subscription

REPO = Path(__file__).resolve().parent.parent
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
FILLERS = 5  # pages per host that do not change, so that a host's crawl lasts a few seconds
DELAY = 0.4
WORKERS = 3
JOB_LINE = re.compile(r"INFO watcher\.queue: (\S+): job \d+, ")
DUE_LINE = re.compile(r"INFO watcher\.queue: (\S+): job (\d+), (\d+) due source\(s\) of (\d+)")
PAGE = "<html><head><title>{name}</title></head><body><main><h1>{name}</h1><p>{text}</p></main></body></html>"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")]


def queue_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The service's settings of tests/test_faults.py, with the queue executor, the delay and quick heartbeats."""
    return service_env(
        database_url,
        data_dir,
        WATCHER_EXECUTOR="queue",
        WATCHER_DOWNLOAD_DELAY=str(DELAY),
        WATCHER_WORKER_HEARTBEAT="0.5",
        WATCHER_WORKER_STALLED="3",
        **extra,
    )


class Processes:
    """The service's processes, each in its own session with its own log; all killed at the end."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        process = spawn(["-m", "watcher.cli", *args], env=self.env, log=log, cwd=REPO)
        self.started.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self.started if log.exists())

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        return next(log.read_text() for p, log in self.started if p is process)

    def kill_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[list[VersionedSite]]:
    """One server per loopback host: the versioned pages of tests/test_faults.py (round 2 strengthens
    claims) and FILLERS pages that stay the same."""
    sites = []
    with contextlib.ExitStack() as stack:
        for host in HOSTS:
            root = tmp_path / host
            write_site(root)
            for n in range(FILLERS):
                (root / f"p{n}").mkdir()
                (root / f"p{n}" / "1.html").write_text(
                    PAGE.format(name=f"page {n}", text=f"Opening hours and access, part {n}. " * 12), encoding="utf-8"
                )
            sites.append(stack.enter_context(VersionedSite(root=root, host=host)))
        yield sites


def watch_all(store: Store, sites: list[VersionedSite]) -> list[int]:
    specs = []
    for site in sites:
        paths = sorted(str(p.relative_to(site.root)) for p in site.root.glob("*/*/1.html"))  # type: ignore[union-attr]
        paths += [f"p{n}/1.html" for n in range(FILLERS)]
        specs += [
            SourceSpec(
                url=site.url("/" + path.removesuffix("1.html")), interval_seconds=86400, clinic=host_of(site.url())
            )
            for path in paths
        ]
    with store.session() as session:
        return [s.id for s in add_sources(session, specs)]


def checks_per_source(store: Store, since: int = 0) -> Counter[int]:
    with store.session() as session:
        return Counter(session.scalars(select(Check.source_id).where(Check.id > since)))


def queue_jobs(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(text("SELECT status::text FROM procrastinate_jobs")))


def served_since(sites: list[VersionedSite], host: str, since: float) -> int:
    site = next(s for s in sites if s.server_address[0] == host)
    return sum(1 for r in list(site.requests) if r.received_at >= since)


def requests_in_order(site: VersionedSite) -> list[Any]:
    """Every request the host's server received (robots.txt included), in order of arrival."""
    return sorted(site.requests, key=lambda r: r.received_at)


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    """The queue executor's store: PostgreSQL only."""
    store = Store(postgres_url)
    yield store
    store.dispose()


def test_three_workers_one_killed_mid_crawl(
    postgres_url: str,
    store: Store,
    tmp_path: Path,
    hosts: list[VersionedSite],
    fault_figures: list[dict[str, object]],
) -> None:
    ids = watch_all(store, hosts)
    with store.session() as session:
        create_subscription(session, SubscriptionSpec(email="desk@example.org"))
    with MailSink() as sink:
        env = queue_env(
            postgres_url,
            tmp_path,
            WATCHER_SMTP_HOST="127.0.0.1",
            WATCHER_SMTP_PORT=str(sink.port),
            WATCHER_SCHEDULER_NOTIFY_INTERVAL="0.5",
        )
        upgraded = subprocess.run(
            [sys.executable, "-m", "watcher.cli", "db", "upgrade"], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert upgraded.returncode == 0, upgraded.stderr
        assert "queue schema (procrastinate) applied" in upgraded.stdout
        processes = Processes(env, tmp_path)
        try:
            scheduler = processes.start("run", "run", "--tick", "0.5")
            workers = [processes.start(f"worker-{n}", "worker") for n in range(WORKERS)]

            # Round 1: every source checked once.
            wait_for(
                lambda: set(checks_per_source(store)) == set(ids) and queue_jobs(store)["succeeded"] >= len(HOSTS),
                what="every source checked once by the workers",
                details=processes.logs,
            )
            assert max(checks_per_source(store).values()) == 1
            mark = max(c for c in [0, *check_ids(store)])

            # Round 2: the pages change and everything is due again; one worker is killed mid-crawl.
            for site in hosts:
                site.round = 2
            with store.session() as session:
                session.execute(update(Source).values(next_due_at=utcnow()))

            round_two = time.monotonic()

            def crawling() -> tuple[subprocess.Popen[bytes], int, str] | None:
                """A worker whose crawl child has already fetched robots.txt and three pages of its host in round 2."""
                for worker in workers:
                    crawls = children(worker.pid)
                    jobs = JOB_LINE.findall(processes.log_of(worker))
                    if crawls and jobs and served_since(hosts, jobs[-1], round_two) >= 4:
                        return worker, crawls[0], jobs[-1]
                return None

            wait_for(lambda: crawling() is not None, what="a worker in the middle of a crawl", details=processes.logs)
            found = crawling()
            assert found is not None
            victim, crawl_pid, victim_host = found
            os.kill(victim.pid, signal.SIGKILL)  # the worker only: its crawl child must follow by itself
            killed_at = time.monotonic()
            served_at_kill = served_since(hosts, victim_host, round_two)
            checked_at_kill = sum(checks_per_source(store, mark).values())
            assert victim.wait(timeout=60) == -signal.SIGKILL
            wait_for(lambda: not is_running(crawl_pid), timeout=60, what="the killed worker's crawl child to end")
            recorded_by_victim = checks_of_host(store, victim_host, mark)

            wait_for(
                lambda: (
                    set(checks_per_source(store, mark)) == set(ids)
                    and not (queue_jobs(store).keys() & {"todo", "doing"})
                ),
                what="every source checked again, the killed worker's job retried elsewhere",
                details=processes.logs,
            )
            recovered = time.monotonic() - killed_at
            wait_for(
                lambda: (
                    count(store, Alert) > 0 and count(store, Delivery, Delivery.status == "sent") == count(store, Alert)
                ),
                what="every alert mailed",
                details=processes.logs,
            )
            received = sink.received()
            # The others ran on, and stop cleanly on SIGTERM.
            for process in [scheduler, *(w for w in workers if w is not victim)]:
                assert process.poll() is None
                process.send_signal(signal.SIGTERM)
            for process in [scheduler, *(w for w in workers if w is not victim)]:
                assert process.wait(timeout=60) == 0, processes.logs()
        finally:
            processes.kill_all()

    run_log = processes.log_of(scheduler)
    retried = re.findall(r"job (\d+) \((\S+)\) was running on a worker that went silent: retried", run_log)
    assert [host for _, host in retried] == [victim_host], run_log
    # The retried job, on another worker, checked only what the killed worker had not recorded.
    runs = [
        (int(due), int(total))
        for worker in workers
        if worker is not victim
        for host, job, due, total in DUE_LINE.findall(processes.log_of(worker))
        if (job, host) == retried[0]
    ]
    assert len(runs) == 1 and runs[0][1] - runs[0][0] == recorded_by_victim, runs
    left = runs[0][0]
    # Every due source checked, none twice in one period.
    assert checks_per_source(store, mark) == Counter(dict.fromkeys(ids, 1))
    # No duplicate rows; nothing half-written; every alert mailed once.
    assert duplicates(store) == 0 and orphans(store) == 0
    with store.session() as session:
        snapshots = Counter(session.scalars(select(Snapshot.source_id)))
        alerts = count(store, Alert)
    assert max(snapshots.values()) <= 2 and count(store, Check, Check.outcome == "error") == 0
    message_ids = Counter(mail.message["Message-ID"] for mail in received)
    assert len(message_ids) == alerts and max(message_ids.values()) == 1
    # Politeness, measured at the servers: one request at a time per host, gaps of delay × (1 − jitter).
    smallest = min(
        later.received_at - earlier.received_at
        for site in hosts
        for earlier, later in zip(requests_in_order(site), requests_in_order(site)[1:], strict=False)
    )
    for site in hosts:
        assert max(site.max_concurrency.values()) == 1, site.max_concurrency
    assert smallest >= DELAY * (1 - DELAY_JITTER), smallest
    requests = sum(len(site.requests) for site in hosts)
    print(
        f"\nkill test: {len(ids)} sources x 2 rounds, {len(hosts)} hosts, {WORKERS} workers; killed one mid-crawl of "
        f"{victim_host} ({served_at_kill} requests served to it in round 2; {checked_at_kill} round-2 checks recorded "
        f"in all, {recorded_by_victim} of them by the killed worker); {len(retried)} stalled job retried, it "
        f"checked the {left} left; all checked "
        f"{recovered:.1f} s after the kill; {requests} requests, smallest gap {smallest:.3f} s"
    )
    fault_figures.append(
        {
            "scenario": f"SIGKILL of one of {WORKERS} queue workers mid-crawl ({len(hosts)} hosts)",
            "faults": "1 kill",
            "survived": f"its job retried on another worker, all checked {recovered:.0f} s after the kill",
            "rows": f"{2 * len(ids)} checks, {sum(snapshots.values())} snapshots, {alerts} alerts, {len(received)} mails",
            "lost": len(ids) - len(checks_per_source(store, mark)) + alerts - len(message_ids),
            "duplicates": duplicates(store) + sum(n - 1 for n in message_ids.values()),
            "service": "running",
        }
    )


def checks_of_host(store: Store, host: str, since: int) -> int:
    with store.session() as session:
        urls = session.scalars(select(Source.url).join(Check, Check.source_id == Source.id).where(Check.id > since))
        return sum(1 for url in urls if host_of(url) == host)


def check_ids(store: Store) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(Check.id)))


def test_one_scheduler_active_standby_takes_over(postgres_url: str) -> None:
    stop = threading.Event()
    first, second = Leadership(postgres_url), Leadership(postgres_url)
    try:
        assert first.acquire(stop, wait=False) and first.held()
        assert not second.acquire(stop, wait=False), "two active schedulers"
        taken = threading.Event()
        standby = threading.Thread(target=lambda: second.acquire(stop, wait=True) and taken.set(), daemon=True)
        standby.start()
        assert not taken.wait(0.5)
        first.release()  # the active one ends (its connection, as when its machine dies)
        wait_for(taken.is_set, what="the standby to take over")
        assert second.held() and not first.held()
    finally:
        stop.set()
        first.release()
        second.release()


def test_queue_needs_postgresql_and_workers_need_the_queue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL") as caught:
        check_executor(load_settings({"WATCHER_EXECUTOR": "queue", "WATCHER_DATA_DIR": str(tmp_path)}))
    assert "\n" not in str(caught.value)
    for name, value, message in [
        ("EXECUTOR", "celery", "expected local or queue"),
        ("WORKER_CONCURRENCY", "0", ">= 1"),
        ("WORKER_STALLED", "1", "more than twice"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_settings({f"WATCHER_{name}": value})
    env = {**queue_env(f"sqlite:///{tmp_path / 'w.db'}", tmp_path), "WATCHER_EXECUTOR": "queue"}
    for args in (["worker"], ["run", "--once"]):
        result = subprocess.run([sys.executable, "-m", "watcher.cli", *args], env=env, capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "WATCHER_EXECUTOR=queue needs PostgreSQL" in result.stderr
    local = {**env, "WATCHER_EXECUTOR": "local"}
    result = subprocess.run([sys.executable, "-m", "watcher.cli", "worker"], env=local, capture_output=True, text=True)
    assert result.returncode == 2 and "needs WATCHER_EXECUTOR=queue" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_stalled_job_gives_way_to_a_newer_batch_of_its_host(postgres_url: str, store: Store, tmp_path: Path) -> None:
    """A worker dies while a newer batch of its host is already queued (the first one ran past its
    lease): the stalled job cannot go back to the queue beside it (the host's queueing lock), so it
    ends and the newer batch runs; the host is not left locked by a dead worker's job."""
    settings = replace(
        load_settings({}), data_dir=tmp_path, database_url=postgres_url, executor="queue", worker_stalled=1.0
    )
    dispatcher = QueueDispatcher(store, settings)

    async def dead_worker_and_newer_batch() -> tuple[int, int]:
        async with dispatcher.app.open_async():
            manager, task = dispatcher.app.job_manager, dispatcher.app.tasks[TASK]
            first = await task.configure(lock="h.example", queueing_lock="h.example").defer_async(
                host="h.example", sources=[]
            )
            worker = await manager.register_worker()
            fetched = await manager.fetch_job(queues=None, worker_id=worker)
            assert fetched is not None and fetched.id == first
            second = await task.configure(lock="h.example", queueing_lock="h.example").defer_async(
                host="h.example", sources=[]
            )
            return first, second

    first, second = asyncio.run(dead_worker_and_newer_batch())
    with store.session() as session:  # the worker went silent an hour ago
        session.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"))
    report = RunReport(number=1)
    assert dispatcher.run_due(report) and report.retried == 1
    with store.session() as session:
        status = dict(session.execute(text("SELECT id, status::text FROM procrastinate_jobs")).all())
    assert status == {first: "failed", second: "todo"}
    dispatcher.close()


def test_sigterm_stops_a_worker_mid_crawl_and_gives_its_sources_back(
    postgres_url: str, store: Store, tmp_path: Path
) -> None:
    """SIGTERM while the crawl waits on a page that never answers: the worker ends the crawl (after
    its 3 s grace) instead of waiting for the download timeout, records nothing more, gives the
    unchecked sources their due time back and exits 0."""
    entered, unblock = threading.Event(), threading.Event()

    def stuck(info: RequestInfo) -> RouteResult:
        entered.set()
        unblock.wait(STARTUP_SECONDS)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.format(name="late", text="late").encode()

    root = tmp_path / "site"
    root.mkdir()
    with VersionedSite(root=root, host=HOSTS[0]) as site:
        site.route("/stuck", stuck)
        with store.session() as session:
            (source,) = add_sources(session, [SourceSpec(url=site.url("/stuck"), interval_seconds=86400)])
        env = queue_env(postgres_url, tmp_path, WATCHER_DOWNLOAD_TIMEOUT="600")
        processes = Processes(env, tmp_path)
        try:
            scheduler = processes.start("run", "run", "--tick", "0.3")
            worker = processes.start("worker", "worker")
            assert entered.wait(STARTUP_SECONDS), processes.logs()
            scheduler.send_signal(signal.SIGTERM)  # it would queue the given-back source again
            assert scheduler.wait(timeout=STARTUP_SECONDS) == 0, processes.logs()
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=STARTUP_SECONDS)
        finally:
            unblock.set()
            processes.kill_all()
    assert code == 0, processes.logs()
    assert "stopped the running crawl" in processes.log_of(worker)
    assert count(store, Check) == 0, "the interrupted capture must not be recorded"
    with store.session() as session:
        due = session.scalars(select(Source.next_due_at).where(Source.id == source.id)).one()
    assert due is None or due <= utcnow(), "the unchecked source is given back, due now"
