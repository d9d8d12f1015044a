"""The queue executor (``WATCHER_EXECUTOR=queue``, PostgreSQL only): checks run on ``watcher worker``
processes on any number of machines, through procrastinate (a PostgreSQL task queue: jobs fetched
with ``FOR UPDATE SKIP LOCKED``, per-key locks, worker heartbeats).

Scheduler side (``QueueDispatcher``, used by ``watcher run``)
    One ``watcher run`` is active across machines: it holds a session-level PostgreSQL advisory lock
    (``LEADER_LOCK``) for as long as it runs; another one waits as a standby and takes over when the
    active one's connection ends. Each tick it retries the jobs of workers whose heartbeat lapsed
    (``WATCHER_WORKER_STALLED``), claims the due sources as the local executor does (the lease on
    ``sources.next_due_at``), groups them by host and queues ONE job per host batch with
    ``lock=host`` (a host's jobs never run at once, on any machine) and ``queueing_lock=host`` (a
    host batch is not queued twice). Notifications and digests stay in the active ``watcher run``, so
    they run exactly once however many workers run.

Worker side (``check_host``, run by ``run_worker``)
    A job carries its sources with the lease each was claimed with. It checks only the sources whose
    ``next_due_at`` is still that lease: a check commits the source's next due time with it, so a job
    retried after its worker died (SIGKILL, a lost machine) re-checks only what was not recorded, and
    a source re-claimed later by a newer job is left to that job. Recording is idempotent besides
    (snapshots by hash, alerts by identity), and mails go out of the outbox once.

Politeness across machines. Inside a crawl, Scrapy keeps one request at a time per host with the
download delay (× 0.5–1.5). Between jobs, ``host_turns`` (PostgreSQL time) holds when a host's last
crawl ended: the next job for that host waits ``WATCHER_DOWNLOAD_DELAY`` × 0.5–1.5 after it before
its first request; a turn still marked busy (its worker died mid-crawl) counts as ending now.

The crawl child dies with its worker as with ``watcher run`` (``watcher.lifeline``, in ``watcher.crawl``).

Schema. procrastinate's tables are its own, not Alembic's: ``ensure_queue_schema`` applies its
schema once (under an advisory lock, so that machines starting together do not race), from
``watcher db upgrade`` with the queue executor and from ``watcher run`` and ``watcher worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg
from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from watcher.config import Settings
from watcher.crawl import Crawler
from watcher.db import Store
from watcher.errors import StoreError
from watcher.models import HostTurn, Source, utcnow
from watcher.pipeline.record import CheckResult
from watcher.pipeline.run import check_with_discovery
from watcher.scheduler import STOP_GRACE_SECONDS, RunReport, claim_due, interrupt_crawls, schedule_batch

log = logging.getLogger(__name__)

TASK = "check_host"
QUEUE = "checks"
# Session-level advisory lock keys (64-bit): the active scheduler; applying the queue schema.
LEADER_LOCK = 0x7761746368657201
SCHEMA_LOCK = 0x7761746368657202
STANDBY_POLL_SECONDS = 2.0
# The random spread of the download delay, as the crawl's (spiders/settings.py, DOWNLOAD_DELAY_JITTER).
DELAY_JITTER = 0.5
TURN_POLL_SECONDS = 0.2


def conninfo(database_url: str) -> str:
    """A libpq URL from a SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, rest = database_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def host_of(url: str) -> str:
    """The politeness key of a URL: its host name, lower-cased (Scrapy's download slot)."""
    return (urlsplit(url).hostname or "").lower()


def connect(database_url: str) -> psycopg.Connection[Any]:
    """An autocommit connection of its own; a database that cannot be reached is one line."""
    try:
        return psycopg.connect(conninfo(database_url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StoreError(f"cannot reach the queue's database: {first}") from None


def ensure_queue_schema(database_url: str) -> bool:
    """Apply procrastinate's schema unless it is there; True when it was applied now."""
    with connect(database_url) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            present = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if present and present[0]:
                return False
            with connection.transaction():
                connection.execute(cast(Any, SchemaManager.get_schema()))
            log.info("applied the queue's schema (procrastinate)")
            return True
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def make_app(settings: Settings) -> App:
    """The procrastinate app on the settings' database, with the ``check_host`` task."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(settings.database_url), min_size=1, max_size=4))
    app.task(name=TASK, queue=QUEUE, pass_context=True)(check_host)
    return app


# --- politeness across machines: host turns -------------------------------------------------------


def take_turn(store: Store, host: str, *, delay: float, rng: random.Random, should_stop: Callable[[], bool]) -> float:
    """Wait until ``host`` may be fetched again (the delay × 0.5–1.5 after its last crawl ended, in
    the database's time) and mark its turn busy; returns the seconds waited. The queue lock on the
    host means no other job of it runs meanwhile."""
    pause = delay * (1.0 + rng.uniform(-DELAY_JITTER, DELAY_JITTER)) if delay > 0 else 0.0
    with store.session() as session:
        turn = session.get(HostTurn, host, with_for_update=True)
        now: datetime = session.execute(select(func.now())).scalar_one()
        if turn is None:
            session.add(HostTurn(host=host, busy=True))
            remaining = 0.0
        else:
            # A turn left busy: its worker died mid-crawl (its crawl died with it): count from now.
            last = now if turn.busy or turn.last_request_at is None else turn.last_request_at
            remaining = pause - (now - last).total_seconds()
            turn.busy = True
    waited = max(0.0, remaining)
    deadline = time.monotonic() + waited
    while time.monotonic() < deadline and not should_stop():
        time.sleep(min(TURN_POLL_SECONDS, deadline - time.monotonic()))
    return waited


def end_turn(store: Store, host: str) -> None:
    """The host's crawl is over: its last request ended now (the database's time)."""
    with store.session() as session:
        session.execute(
            update(HostTurn)
            .where(HostTurn.host == host)
            .values(busy=False, last_request_at=func.now())
            .execution_options(synchronize_session=False)
        )


# --- worker side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leased:
    """A source of a job: its id, the lease it was claimed with, and its due time before that."""

    source_id: int
    lease: datetime
    previous: datetime | None

    def to_json(self) -> list[Any]:
        return [self.source_id, self.lease.isoformat(), self.previous.isoformat() if self.previous else None]

    @classmethod
    def from_json(cls, item: Sequence[Any]) -> Leased:
        return cls(int(item[0]), datetime.fromisoformat(item[1]), datetime.fromisoformat(item[2]) if item[2] else None)


def still_leased(session: Session, sources: Sequence[Leased]) -> list[Leased]:
    """The sources still due for this job: their ``next_due_at`` is still the lease they were claimed
    with (a recorded check moved it on; a newer claim made it another job's)."""
    current = dict(
        session.execute(
            select(Source.id, Source.next_due_at).where(
                Source.id.in_([s.source_id for s in sources]), Source.active.is_(True)
            )
        ).all()
    )
    return [s for s in sources if s.source_id in current and current[s.source_id] == s.lease]


def give_back(session: Session, sources: Sequence[Leased]) -> None:
    """Unchecked sources of a stopped job get their previous due time back, if still leased to it."""
    for leased in sources:
        session.execute(
            update(Source)
            .where(Source.id == leased.source_id, Source.next_due_at == leased.lease)
            .values(next_due_at=leased.previous)
            .execution_options(synchronize_session=False)
        )


class CrawlerPool:
    """A worker's kept crawl children (``watcher.crawl.Crawler``): one per job running at once,
    reused job after job, so that a host batch does not pay a Scrapy start-up. ``keep=False``: a
    child per job (a job run outside ``watcher worker``)."""

    def __init__(self, settings: Settings, *, keep: bool = True) -> None:
        self.settings = settings
        self.keep = keep
        self._free: list[Crawler] = []
        self._all: list[Crawler] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[Crawler | None]:
        if not self.keep:
            yield None
            return
        with self._lock:
            crawler = self._free.pop() if self._free else None
            if crawler is None:
                crawler = Crawler(self.settings)
                self._all.append(crawler)
        try:
            yield crawler
        finally:
            with self._lock:
                self._free.append(crawler)

    def close(self) -> None:
        with self._lock:
            for crawler in self._all:
                crawler.close()


def check_host(context: JobContext, host: str, sources: list[list[Any]]) -> dict[str, Any]:
    """The job: check a host's batch of due sources (and the pages discovered from them)."""
    store: Store = context.additional_context["store"]
    settings: Settings = context.additional_context["settings"]
    rng: random.Random = context.additional_context.get("rng") or random.Random()
    crawlers: CrawlerPool = context.additional_context.get("crawlers") or CrawlerPool(settings, keep=False)
    leased = [Leased.from_json(item) for item in sources]
    with store.session() as session:
        due = still_leased(session, leased)
    summary: dict[str, Any] = {"host": host, "sources": len(leased), "skipped": len(leased) - len(due), "checks": 0}
    if not due:
        log.info("%s: nothing left to check (%d source(s) recorded or re-queued)", host, len(leased))
        return summary
    recorded: set[int] = set()

    def on_batch(session: Session, results: Sequence[CheckResult]) -> None:
        ids = [result.source_id for result in results]
        schedule_batch(session, ids, jitter=settings.scheduler_jitter, rng=rng)
        recorded.update(ids)

    log.info("%s: job %s, %d due source(s) of %d", host, context.job.id, len(due), len(leased))
    finished = threading.Event()
    threading.Thread(target=_end_crawl_on_abort, args=(context, finished), name="abort-watch", daemon=True).start()
    summary["waited"] = round(
        take_turn(store, host, delay=settings.download_delay, rng=rng, should_stop=context.should_abort), 3
    )
    try:
        with crawlers.lease() as crawler:
            for result in check_with_discovery(
                store,
                [] if context.should_abort() else [s.source_id for s in due],
                settings=settings,
                on_batch=on_batch,
                should_stop=context.should_abort,
                crawler=crawler,
            ):
                summary["checks"] += 1
                summary[result.outcome] = summary.get(result.outcome, 0) + 1
    finally:
        finished.set()
        end_turn(store, host)
        unchecked = [s for s in due if s.source_id not in recorded]
        if unchecked and context.should_abort():
            with store.session() as session:
                give_back(session, unchecked)
            summary["given_back"] = len(unchecked)
    log.info("%s: %d check(s) of %d due source(s)", host, summary["checks"], len(due))
    return summary


def _end_crawl_on_abort(context: JobContext, finished: threading.Event) -> None:
    """When the worker stops (SIGTERM, after its grace), end the crawl at once rather than wait for a
    slow download: nothing is recorded after a stop anyway. Stops are the worker's, so every running
    job is stopping and ending all of its crawl subprocesses is right."""
    while not finished.wait(TURN_POLL_SECONDS):
        if context.should_abort():
            killed = interrupt_crawls()
            if killed:
                log.info("stopped the running crawl (%d process(es)); its unrecorded pages are given back", killed)
            return


def run_worker(store: Store, settings: Settings, *, concurrency: int, name: str | None = None) -> int:
    """Run jobs until SIGTERM/SIGINT (then the running jobs stop after the capture being recorded)."""
    ensure_queue_schema(settings.database_url)
    app = make_app(settings)
    log.info(
        "watcher worker: %d job(s) at once, heartbeat every %g s (jobs of a worker silent for %g s are retried)",
        concurrency,
        settings.worker_heartbeat,
        settings.worker_stalled,
    )
    crawlers = CrawlerPool(settings)
    try:
        app.run_worker(
            queues=[QUEUE],
            name=name,
            concurrency=concurrency,
            update_heartbeat_interval=settings.worker_heartbeat,
            stalled_worker_timeout=settings.worker_stalled,
            shutdown_graceful_timeout=STOP_GRACE_SECONDS,
            additional_context={"store": store, "settings": settings, "crawlers": crawlers},
            install_signal_handlers=True,
        )
    finally:
        crawlers.close()
    log.info("watcher worker stopped")
    return 0


# --- scheduler side ----------------------------------------------------------------------------


class Leadership:
    """The active scheduler across machines: a session-level advisory lock on its own connection."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._connection: psycopg.Connection[Any] | None = None

    def acquire(self, stop: threading.Event, *, wait: bool) -> bool:
        """Take the lock; with ``wait``, keep trying (a standby) until it is free or ``stop`` is set."""
        said = False
        while not stop.is_set():
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = connect(self._database_url)
                row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
            except (StoreError, psycopg.Error) as error:
                if not wait:
                    raise StoreError(f"cannot take the scheduler lock: {error}") from None
                log.warning("standby: %s; trying again", error)
                self.release()
                stop.wait(STANDBY_POLL_SECONDS)
                continue
            if row and row[0]:
                if said:
                    log.info("the active scheduler is gone: this one takes over")
                return True
            if not wait:
                return False
            if not said:
                log.info("standby: another watcher run is active; waiting to take over")
                said = True
            stop.wait(STANDBY_POLL_SECONDS)
        return False

    def held(self) -> bool:
        """Whether the lock is still ours (its connection is alive)."""
        if self._connection is None or self._connection.closed:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the session ends: so does its advisory lock
            self._connection = None


class QueueDispatcher:
    """``watcher run`` with the queue executor: leads, retries stalled jobs, queues host batches."""

    def __init__(self, store: Store, settings: Settings, *, rng: random.Random | None = None) -> None:
        self.store = store
        self.settings = settings
        self._rng = rng or random.Random()
        self._leadership = Leadership(settings.database_url)
        ensure_queue_schema(settings.database_url)
        self.app = make_app(settings)

    def lead(self, stop: threading.Event, *, wait: bool = True) -> bool:
        return self._leadership.acquire(stop, wait=wait)

    def leading(self) -> bool:
        return self._leadership.held()

    def close(self) -> None:
        self._leadership.release()

    def run_due(self, report: RunReport) -> bool:
        """Retry stalled jobs, claim what is due, queue one job per host; False when there was nothing."""
        batches: dict[str, list[Leased]] = defaultdict(list)
        size = self.settings.scheduler_batch_size
        while True:
            with self.store.session() as session:
                claims = claim_due(
                    session, now=utcnow(), limit=size, jitter=self.settings.scheduler_jitter, rng=self._rng
                )
                previous = {c.source_id: c.previous_due for c in claims}
                for source_id, url, lease in session.execute(
                    select(Source.id, Source.url, Source.next_due_at).where(Source.id.in_(list(previous)))
                ):
                    if lease is not None:  # just claimed: always set
                        batches[host_of(url)].append(Leased(source_id, lease, previous[source_id]))
            if len(claims) < size:
                break
        queued, retried = asyncio.run(self._queue(batches))
        already = [leased for host, items in batches.items() if host not in queued for leased in items]
        if already:  # a batch of that host is still waiting: it keeps these sources' previous claim
            with self.store.session() as session:
                give_back(session, already)
        report.retried = retried
        report.queued_jobs = len(queued)
        report.queued_sources = sum(len(batches[host]) for host in queued)
        return bool(report.queued_jobs or retried)

    async def _queue(self, batches: dict[str, list[Leased]]) -> tuple[set[str], int]:
        queued: set[str] = set()
        async with self.app.open_async():
            manager = self.app.job_manager
            stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self.settings.worker_stalled))
            for job in stalled:
                try:
                    await manager.retry_job(job)
                except UniqueViolation:  # a newer batch of that host waits (its queueing lock): it takes over
                    assert job.id is not None
                    await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
                    log.warning(
                        "job %s (%s) was running on a worker that went silent: ended, a newer batch of the host "
                        "is queued (its other sources come back when their lease ends)",
                        job.id,
                        job.lock,
                    )
                    continue
                log.warning("job %s (%s) was running on a worker that went silent: retried", job.id, job.lock)
            task = self.app.tasks[TASK]
            for host, items in sorted(batches.items()):
                try:
                    await task.configure(lock=host, queueing_lock=host).defer_async(
                        host=host, sources=[leased.to_json() for leased in items]
                    )
                except AlreadyEnqueued:
                    log.debug("%s: a batch is already queued", host)
                    continue
                queued.add(host)
        return queued, len(stalled)
