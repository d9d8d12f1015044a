"""``watcher run``: the long-running service that checks every source at its own interval.

One APScheduler ``BackgroundScheduler`` (in-memory job store: the schedule that matters lives in the
database) with up to three jobs, each ``max_instances=1`` and coalesced (a run that comes due while
the previous one is still going is skipped, never queued twice):

``check-due-sources`` every ``WATCHER_SCHEDULER_TICK`` seconds
    claims the due sources (``next_due_at`` NULL or past, oldest first), at most
    ``WATCHER_SCHEDULER_BATCH_SIZE`` at a time, and checks each batch in ONE crawl subprocess
    (politeness per domain is Scrapy's, inside it); site sources discover new pages, which are checked
    in the same run. It takes the next batch at once while batches come full, and logs one line per run.
``send-notifications`` every ``WATCHER_SCHEDULER_NOTIFY_INTERVAL`` seconds
    ``watcher.notify.outbox.enqueue`` then ``send_due``;
``enqueue-digests`` every ``WATCHER_SCHEDULER_DIGEST_INTERVAL`` seconds
    ``watcher.notify.outbox.enqueue_digests`` (which decides which digests are due).
    Without ``WATCHER_SMTP_HOST`` both jobs find e-mail disabled and do nothing; the service says so at start.

Resume. ``sources.next_due_at`` is the schedule. Each check commits together with its source's next
due time (``checked_at + interval × (1 ± WATCHER_SCHEDULER_JITTER)``), so a restart, even after
SIGKILL, re-fetches nothing that is not due. The jitter spreads sources added together.

No source twice at once. Before a batch is crawled its sources are *claimed*: ``next_due_at`` is
moved to now + a lease (the source's interval, at most ``CLAIM_LEASE_SECONDS``) by a conditional
UPDATE, so neither the next tick nor a second service on the same database takes them again. A crash
mid-batch leaves the unrecorded sources due again once their lease ends; a clean stop gives their
previous due time back at once.

Isolation. Crawls run in a subprocess (``watcher.crawl``): a crash, hang or kill of a crawl becomes
failed checks (``crawl_failed``), and a failing job is logged in one line; neither ends the service.

Stop. SIGTERM or SIGINT: no new job starts; the running batch records nothing after the capture it is
recording (each capture is one transaction, so nothing is left half-written), its crawl subprocess is
stopped (killed if it does not answer within ``STOP_GRACE_SECONDS``), unrecorded claims are released,
and the process exits with status 0.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, cast

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.crawl import Crawler
from watcher.db import Store
from watcher.models import Alert, Source, utcnow
from watcher.notify import outbox
from watcher.pipeline.record import CheckResult, held_sources
from watcher.pipeline.run import TARGET_COLUMNS, check_with_discovery, fetch_target

log = logging.getLogger(__name__)

CLAIM_LEASE_SECONDS = 600.0
STOP_GRACE_SECONDS = 3.0  # then the running crawl subprocess is killed
STOP_WAIT_SECONDS = 60.0  # longest wait for the running batch to finish recording after that


# --- the schedule in the database ---------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    source_id: int
    previous_due: datetime | None
    # What the crawl needs of the source, returned by the claim's UPDATE: the batch is not read again.
    target: FetchTarget


def jittered(seconds: float, jitter: float, rng: random.Random) -> timedelta:
    """``seconds`` × a random factor in [1 - jitter, 1 + jitter]; never under one second."""
    factor = 1.0 + rng.uniform(-jitter, jitter) if jitter > 0 else 1.0
    return timedelta(seconds=max(1.0, seconds * factor))


def claim_due(
    session: Session, *, now: datetime, limit: int, jitter: float = 0.0, rng: random.Random | None = None
) -> list[Claim]:
    """Claim up to ``limit`` due active sources, never-checked and longest-overdue first."""
    chance = rng or random.Random()
    rows = session.execute(
        select(Source.id, Source.next_due_at, Source.interval_seconds)
        .where(Source.active.is_(True), or_(Source.next_due_at.is_(None), Source.next_due_at <= now))
        .order_by(Source.next_due_at.asc().nulls_first(), Source.id)
        .limit(limit)
    ).all()
    # One conditional UPDATE per lease length (most sources share the longest lease), not one per
    # source: a source is claimed if it is still due, so one that another scheduler claimed (or that
    # was checked) since the SELECT is left out.
    leases: dict[timedelta, list[int]] = defaultdict(list)
    for source_id, _previous, interval in rows:
        leases[min(jittered(interval, jitter, chance), timedelta(seconds=CLAIM_LEASE_SECONDS))].append(source_id)
    claimed: dict[int, FetchTarget] = {}
    for lease, ids in leases.items():
        returned = session.execute(
            update(Source)
            .where(Source.id.in_(ids), or_(Source.next_due_at.is_(None), Source.next_due_at <= now))
            .values(next_due_at=now + lease)
            .returning(*TARGET_COLUMNS)
            .execution_options(synchronize_session=False)
        )
        claimed.update((row[0], fetch_target(row)) for row in returned)
    return [
        Claim(source_id, previous, claimed[source_id])
        for source_id, previous, _interval in rows
        if source_id in claimed
    ]


SOURCES = cast(Table, Source.__table__)
# One statement object for every batch: an executemany of one UPDATE per source.
_SET_DUE = (
    update(SOURCES)
    .where(SOURCES.c.id == bindparam("b_id"))
    .values(next_due_at=bindparam("b_due", type_=SOURCES.c.next_due_at.type))
)


def schedule_batch(
    session: Session, source_ids: Sequence[int], *, jitter: float, rng: random.Random | None = None
) -> None:
    """The next due time of each source of a recorded batch (the service's and the queue workers'): its
    interval from now, with jitter (in order; one met twice is scheduled after its last check), by one
    executemany of Core UPDATEs rather than the unit of work's, which compares every column of every
    source it holds at the flush. The sources are read from the session (the recording loaded them
    all); their objects take the due times as their stored values."""
    chance = rng or random.Random()
    rows = []
    held = held_sources(session)
    for source_id in source_ids:
        source = held.get(source_id) or session.get(Source, source_id)
        if source is not None:
            due = utcnow() + jittered(source.interval_seconds, jitter, chance)
            set_committed_value(source, "next_due_at", due)
            rows.append({"b_id": source_id, "b_due": due})
    if rows:
        session.connection().execute(_SET_DUE, rows)


def release(session: Session, claims: list[Claim]) -> None:
    """Give claimed but unchecked sources their previous due time back (on a clean stop)."""
    for claim in claims:
        session.execute(
            update(Source)
            .where(Source.id == claim.source_id)
            .values(next_due_at=claim.previous_due)
            .execution_options(synchronize_session=False)
        )


def next_due(session: Session) -> tuple[int, int, datetime | None]:
    """(active sources, of which due now, the earliest future due time), by one statement."""
    now = utcnow()
    active = Source.active.is_(True)
    row = session.execute(
        select(
            select(func.count()).select_from(Source).where(active).scalar_subquery(),
            select(func.count())
            .select_from(Source)
            .where(active, or_(Source.next_due_at.is_(None), Source.next_due_at <= now))
            .scalar_subquery(),
            select(func.min(Source.next_due_at)).where(active, Source.next_due_at > now).scalar_subquery(),
        )
    ).one()
    return row[0] or 0, row[1] or 0, row[2]


_frozen = threading.Event()  # freeze_survivors has run in this process


def freeze_survivors() -> None:
    """Once per process, after its first run: collect the cyclic garbage, then leave every object still
    alive (the modules, the analyser's vocabulary, SQLAlchemy's compiled statements, ...) out of the
    garbage collector's later passes. A full collection otherwise walks all of them again each time
    the objects a run leaves pile up: about a tenth of the parent's CPU in a round of 500 pages with
    50 changed (issue 14). What dies later by its count is freed as before; only cycles among the
    frozen objects would stay, and the process's long-lived objects are not such garbage."""
    if _frozen.is_set():
        return
    _frozen.set()
    gc.collect()
    gc.freeze()


def _id_marks(session: Session) -> tuple[int, int]:
    """The largest alert id and source id (0 for none), by one statement: a run counts the alerts and
    discovered pages above them."""
    alerts, sources = session.execute(
        select(select(func.max(Alert.id)).scalar_subquery(), select(func.max(Source.id)).scalar_subquery())
    ).one()
    return alerts or 0, sources or 0


def describe_wait(when: datetime | None, *, now: datetime | None = None) -> str:
    if when is None:
        return "none scheduled"
    seconds = (when - (now or utcnow())).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 120:
        return f"in {max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"in {minutes:.0f} min"
    return f"in {minutes / 60:.1f} h"


# --- the service --------------------------------------------------------------------------------


@dataclass
class RunReport:
    number: int
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    batches: int = 0
    new_pages: int = 0
    new_alerts: int = 0
    stopped: bool = False
    active: int = 0
    due: int = 0
    upcoming: datetime | None = None
    # The queue executor: jobs queued (one per host batch), their sources, stalled jobs retried.
    queued_jobs: int = 0
    queued_sources: int = 0
    retried: int = 0

    def line(self) -> str:
        if self.queued_jobs or self.retried:
            return self._queued_line()
        total = sum(self.outcomes.values())
        parts = [f"run {self.number}: {total} check(s) in {self.seconds:.1f} s"]
        if self.outcomes:
            parts[0] += " (" + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) + ")"
        if self.new_pages:
            parts.append(f"{self.new_pages} new page(s) discovered")
        parts.append(f"{self.new_alerts} new alert(s)")
        if self.stopped:
            parts.append("interrupted by stop")
        parts.append(self._sources_part())
        return "; ".join(parts)

    def _queued_line(self) -> str:
        parts = [f"run {self.number}: queued {self.queued_jobs} host batch(es) of {self.queued_sources} source(s)"]
        if self.retried:
            parts.append(f"{self.retried} stalled job(s) retried")
        parts.append(self._sources_part())
        return "; ".join(parts)

    def _sources_part(self) -> str:
        waiting = f"{self.due} due now" if self.due else f"next due {describe_wait(self.upcoming)}"
        return f"{self.active} active source(s), {waiting}"


class Dispatcher(Protocol):
    """Where due checks go instead of this process (``watcher.queue.QueueDispatcher``): it also
    decides which ``watcher run`` is the active one across machines."""

    def lead(self, stop: threading.Event, *, wait: bool = True) -> bool: ...

    def leading(self) -> bool: ...

    def run_due(self, report: RunReport) -> bool: ...

    def close(self) -> None: ...


class Service:
    """The scheduler service; ``serve()`` blocks until SIGTERM/SIGINT, ``once()`` runs one tick."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        tick: float | None = None,
        rng: random.Random | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.tick = tick or settings.scheduler_tick
        self.stop_requested = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._runs = 0
        self._rng = rng or random.Random()
        self.lost_lead = False
        self.crawler: Crawler | None = None  # while serving: one crawl child for batch after batch

    # -- one run ---------------------------------------------------------------------------------

    def run_due(self) -> RunReport | None:
        """Check everything due now, in batches; None when nothing was due."""
        if self.dispatcher is not None:
            return self._dispatch_due(self.dispatcher)
        started = time.monotonic()
        marks: tuple[int, int] | None = None  # the largest alert and source ids before the run's first check
        report = RunReport(number=self._runs + 1)
        recorded: set[int] = set()

        def on_batch(session: Session, results: Sequence[CheckResult]) -> None:
            ids = [result.source_id for result in results]
            schedule_batch(session, ids, jitter=self.settings.scheduler_jitter, rng=self._rng)
            recorded.update(ids)

        batch_size = self.settings.scheduler_batch_size
        while not self.stop_requested.is_set():
            with self.store.session() as session:
                claims = claim_due(
                    session, now=utcnow(), limit=batch_size, jitter=self.settings.scheduler_jitter, rng=self._rng
                )
                if claims and marks is None:  # in the claim's transaction: an idle tick reads nothing more
                    marks = _id_marks(session)
            if not claims:
                break
            report.batches += 1
            try:
                for result in check_with_discovery(
                    self.store,
                    [c.source_id for c in claims],
                    settings=self.settings,
                    should_stop=self.stop_requested.is_set,
                    crawler=self.crawler,
                    on_batch=on_batch,
                    targets=[claim.target for claim in claims],
                ):
                    report.outcomes[result.outcome] += 1
            finally:
                unchecked = [c for c in claims if c.source_id not in recorded]
                if unchecked and self.stop_requested.is_set():
                    with self.store.session() as session:
                        release(session, unchecked)
            if len(claims) < batch_size:
                break
        if not report.batches or marks is None:
            return None
        alert_mark, source_mark = marks
        self._runs += 1
        freeze_survivors()
        report.stopped = self.stop_requested.is_set()
        report.seconds = time.monotonic() - started
        with self.store.session() as session:
            new_alerts, new_pages = session.execute(
                select(
                    select(func.count()).select_from(Alert).where(Alert.id > alert_mark).scalar_subquery(),
                    select(func.count())
                    .select_from(Source)
                    .where(Source.id > source_mark, Source.discovered_from_id.is_not(None))
                    .scalar_subquery(),
                )
            ).one()
            report.new_alerts, report.new_pages = new_alerts or 0, new_pages or 0
            report.active, report.due, report.upcoming = next_due(session)
        log.info("%s", report.line())
        return report

    def _dispatch_due(self, dispatcher: Dispatcher) -> RunReport | None:
        """The queue executor: hand what is due to the workers; None when nothing was due."""
        if not dispatcher.leading():
            log.error("lost the scheduler lock (database connection ended): stopping; a standby takes over")
            self.lost_lead = True
            self.stop_requested.set()
            return None
        started = time.monotonic()
        report = RunReport(number=self._runs + 1)
        if not dispatcher.run_due(report):
            return None
        self._runs += 1
        report.seconds = time.monotonic() - started
        with self.store.session() as session:
            report.active, report.due, report.upcoming = next_due(session)
        log.info("%s", report.line())
        return report

    # -- jobs ------------------------------------------------------------------------------------

    def _check_job(self) -> None:
        if self.stop_requested.is_set():
            return
        self._idle.clear()
        try:
            if self.run_due() is None:
                log.debug("nothing due")
        except Exception as error:  # the next tick tries again; the service lives on
            log.error("run failed: %s", _one_line(error))
            log.debug("run failure", exc_info=True)
        finally:
            self._idle.set()

    def _notify_job(self) -> None:
        if self.stop_requested.is_set():
            return
        try:
            outbox.enqueue(self.store, self.settings)
            report = outbox.send_due(self.store, self.settings)
        except Exception as error:
            log.error("sending notifications failed: %s", _one_line(error))
            log.debug("notification failure", exc_info=True)
            return
        counts = {
            "sent": report.sent,
            "retrying": report.retrying,
            "failed": report.failed,
            "cancelled": report.cancelled,
        }
        if any(counts.values()):
            log.info("notifications: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))

    def _digest_job(self) -> None:
        if self.stop_requested.is_set():
            return
        try:
            added = outbox.enqueue_digests(self.store, self.settings)
        except Exception as error:
            log.error("collecting digests failed: %s", _one_line(error))
            log.debug("digest failure", exc_info=True)
            return
        if added:
            log.info("digests: %d alert(s) added to daily digests", added)

    # -- lifecycle -------------------------------------------------------------------------------

    def _announce(self) -> None:
        with self.store.session() as session:
            active, due, upcoming = next_due(session)
        if not outbox.email_enabled(self.settings):
            notes = "notifications scheduled but e-mail is disabled (WATCHER_SMTP_HOST is empty)"
        else:
            notes = (
                f"notifications every {self.settings.scheduler_notify_interval:g} s, digests collected every "
                f"{self.settings.scheduler_digest_interval:g} s"
            )
        resume = f"{due} due now" + (f", next {describe_wait(upcoming)}" if upcoming else "")
        log.info(
            "watcher run: %d active source(s), %s; tick %g s, jitter ±%g %%, batches of %d; %s",
            active,
            resume,
            self.tick,
            self.settings.scheduler_jitter * 100,
            self.settings.scheduler_batch_size,
            notes,
        )

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stop_requested.is_set():
            log.info("received %s: stopping after the capture being recorded", signal.Signals(signum).name)
        self.stop_requested.set()

    def _install_signals(self) -> dict[int, Any]:
        return {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def once(self) -> int:
        """One run of everything due (and of the notifications), then exit."""
        previous = self._install_signals()
        try:
            self._announce()
            if self.dispatcher is not None and not self.dispatcher.lead(self.stop_requested, wait=False):
                log.info("another watcher run is active (the queue executor's scheduler): nothing done")
                return 0
            self._idle.clear()
            try:
                if self.run_due() is None:
                    with self.store.session() as session:
                        active, _due, upcoming = next_due(session)
                    log.info("run: nothing due; %d active source(s), next due %s", active, describe_wait(upcoming))
            finally:
                self._idle.set()
            self._notify_job()
            self._digest_job()
        finally:
            if self.dispatcher is not None:
                self.dispatcher.close()
            _restore_signals(previous)
        return 0

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit status (0 after a clean stop)."""
        previous = self._install_signals()
        self.crawler = Crawler(self.settings)
        try:
            self._announce()
            if self.dispatcher is not None and not self.dispatcher.lead(self.stop_requested):
                log.info("stopped while on standby")
                return 0
            scheduler = BackgroundScheduler(
                timezone=UTC,
                logger=_apscheduler_logger(),
                executors={"default": ThreadPoolExecutor(max_workers=3)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            now = datetime.now(UTC)
            jobs = (
                (self._check_job, self.tick, "check-due-sources", "check due sources", 0),
                (
                    self._notify_job,
                    self.settings.scheduler_notify_interval,
                    "send-notifications",
                    "send notifications",
                    1,
                ),
                (self._digest_job, self.settings.scheduler_digest_interval, "enqueue-digests", "collect digests", 2),
            )
            for job, seconds, job_id, name, delay in jobs:
                scheduler.add_job(
                    job,
                    IntervalTrigger(seconds=seconds, timezone=UTC),
                    id=job_id,
                    name=name,
                    next_run_time=now + timedelta(seconds=delay),
                )
            scheduler.start()
            try:
                while not self.stop_requested.wait(0.5):
                    pass
            finally:
                scheduler.shutdown(wait=False)  # no new jobs; the running ones finish below
                self._wait_for_run()
        finally:
            if self.dispatcher is not None:
                self.dispatcher.close()
            self.crawler.close()
            _restore_signals(previous)
        if self.lost_lead:
            return 1
        log.info("stopped cleanly after %d run(s)", self._runs)
        return 0

    def _wait_for_run(self) -> None:
        if self._idle.wait(STOP_GRACE_SECONDS):
            return
        killed = interrupt_crawls()
        if killed:
            log.info("stopped the running crawl (%d process(es)); its unrecorded pages stay due", killed)
        if not self._idle.wait(STOP_WAIT_SECONDS):
            log.warning(
                "the running batch did not finish within %g s; exiting anyway (each recorded "
                "check is complete: captures are recorded one transaction each)",
                STOP_WAIT_SECONDS,
            )


def interrupt_crawls() -> int:
    """Kill this process's crawl subprocesses (its only child processes), so that a stop does not
    wait for slow downloads; returns how many. Linux (/proc) only; elsewhere the stop waits for the
    next capture instead. Nothing is lost: captures after a stop are not recorded anyway."""
    me = os.getpid()
    killed = 0
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == me:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
    return killed


class _QuietSkips(logging.Filter):
    """A tick that comes due while the previous run is still going is skipped by design
    (max_instances=1, coalesced); APScheduler would warn about it every tick of a long run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def _apscheduler_logger() -> logging.Logger:
    logger = logging.getLogger("watcher.scheduler.apscheduler")
    if not any(isinstance(f, _QuietSkips) for f in logger.filters):
        logger.addFilter(_QuietSkips())
    return logger


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(getattr(error, "orig", None) or error).split()) or type(error).__name__
    return text[:300]
