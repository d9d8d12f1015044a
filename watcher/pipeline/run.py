"""Running checks (the flow's first step): fetch a batch of sources through the crawl subprocess,
record each capture as it arrives (``watcher.pipeline.record``, with the claim analysis of
``watcher.pipeline.analyse`` as its new-version hook), keep the page requisites of new snapshots
(``watcher.pipeline.requisites``, sources with ``--requisites``), then let discovery
(``watcher.pipeline.discover``) add the new pages of site sources, checked in the same run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.capture import Capture, FetchTarget, one_line
from watcher.config import Settings
from watcher.crawl import Crawler, crawl_with_pauses
from watcher.db import Store
from watcher.models import Source
from watcher.pipeline.analyse import analyse_new_versions
from watcher.pipeline.discover import discover_after
from watcher.pipeline.record import CheckResult, VersionHook, VersionsHook, record_captures, unrecordable
from watcher.pipeline.requisites import fetch_requisites_after
from watcher.sources import MAX_DEPTH_LIMIT

log = logging.getLogger(__name__)
# Called once per recording transaction with its results, inside it (the scheduler's next due times:
# one statement for the batch).
BatchHook = Callable[[Session, Sequence[CheckResult]], None]
LOAD_CHUNK = 500  # sources read per session when making the fetch targets
# Captures recorded per transaction (one commit, and the flushes of one session, for several checks);
# a batch is committed when it is full, when the crawl pauses for BATCH_PAUSE_SECONDS, or
# BATCH_SECONDS after its first capture arrived, whichever comes first. Above the scheduler's batch
# (50 sources by default), so that a claimed batch fetched without a pause is one transaction: each
# transaction costs its sources' load, checks INSERT, next due times and commit, whatever its size.
BATCH_CAPTURES = 64
BATCH_PAUSE_SECONDS = 0.2
BATCH_SECONDS = 2.0


def check_with_discovery(
    store: Store,
    source_ids: Sequence[int],
    *,
    settings: Settings,
    on_recorded: Callable[[Session, CheckResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dated: Callable[[Capture], Capture] | None = None,
    crawler: Crawler | None = None,
    on_batch: BatchHook | None = None,
    targets: Sequence[FetchTarget] | None = None,
) -> Iterator[CheckResult]:
    """Check the sources (``check_sources`` with claim analysis), discover new pages from the site
    sources among them, check those in the same run, and so on up to the depth bound. Yields a
    ``CheckResult`` per check. The entry point of every check: ``watcher check``, ``watcher run``
    and the demo. ``crawler`` keeps one crawl child for batch after batch (``watcher run``); without
    it each batch starts its own. ``targets``: the fetch targets of ``source_ids`` when the caller has
    read them already (the scheduler's claim returns them), so that they are not read again."""
    pending = list(dict.fromkeys(source_ids))
    known = targets
    robots: dict[str, str | None] = {}
    for _round in range(MAX_DEPTH_LIMIT + 1):
        if not pending:
            return
        follow_ups = []  # only these can need requisites or discovery: the rest are not kept
        for result in check_sources(
            store,
            pending,
            settings=settings,
            on_new_versions=analyse_new_versions,
            on_recorded=on_recorded,
            should_stop=should_stop,
            dated=dated,
            crawler=crawler,
            on_batch=on_batch,
            targets=known,
        ):
            if result.follow_up:
                follow_ups.append(result)
            yield result
        if should_stop is not None and should_stop():
            return
        known = None  # the discovered pages' targets are read
        fetch_requisites_after(store, follow_ups, settings=settings, should_stop=should_stop)
        pending = discover_after(store, follow_ups, settings=settings, robots=robots, should_stop=should_stop)


# The columns a fetch target is made of, in ``fetch_target``'s order (read here, returned by the
# scheduler's claims).
TARGET_COLUMNS = (Source.id, Source.url, Source.etag, Source.last_modified, Source.render, Source.screenshot)


def fetch_target(row: Sequence[Any]) -> FetchTarget:
    """The fetch target of a row of ``TARGET_COLUMNS``."""
    source_id, url, etag, last_modified, render, screenshot = row
    return FetchTarget(
        source_id=source_id, url=url, etag=etag, last_modified=last_modified, render=render, screenshot=screenshot
    )


def _load_targets(store: Store, source_ids: Sequence[int]) -> list[FetchTarget]:
    """The fetch targets of the sources, in their order, read ``LOAD_CHUNK`` at a time by one query of
    the columns they need: no ORM row is made, nor an identity map of every source kept (a check of
    thousands of sources would hold them all)."""
    targets: list[FetchTarget] = []
    for start in range(0, len(source_ids), LOAD_CHUNK):
        chunk = source_ids[start : start + LOAD_CHUNK]
        with store.session() as session:
            rows = {row[0]: row for row in session.execute(select(*TARGET_COLUMNS).where(Source.id.in_(chunk)))}
        targets += [fetch_target(rows[i]) for i in chunk if i in rows]
    return targets


def check_sources(
    store: Store,
    source_ids: Sequence[int],
    *,
    settings: Settings,
    on_new_version: VersionHook | None = None,
    on_recorded: Callable[[Session, CheckResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dated: Callable[[Capture], Capture] | None = None,
    crawler: Crawler | None = None,
    on_batch: BatchHook | None = None,
    targets: Sequence[FetchTarget] | None = None,
    on_new_versions: VersionsHook | None = None,
) -> Iterator[CheckResult]:
    """Fetch the sources (through ``crawler``'s child when given) and record the captures as they
    arrive, several per transaction: up to ``BATCH_CAPTURES`` of them, committed as soon as the crawl
    pauses for ``BATCH_PAUSE_SECONDS`` or ``BATCH_SECONDS`` after the first. Each result is yielded
    once committed.

    Each capture's effects stay whole: when a batch's transaction fails, its captures are recorded
    again one by one, each in its own transaction, so that one bad capture never loses the others.
    ``on_recorded`` runs inside the transaction that records the capture (the scheduler stores the
    next due time there, so a check and its schedule commit together); ``on_batch`` likewise, once per
    transaction with all its results (after their ``on_recorded``). When ``should_stop()`` turns
    true the captures still to come are not recorded (those held are committed) and the crawl is
    stopped. ``dated`` gives a capture the time it is recorded at, as an imported capture brings its
    own (the demo's simulated timeline); without it a capture keeps the time it was fetched.
    ``targets``: the sources' fetch targets when the caller has them (else they are read).
    """
    record = partial(
        _record_batch,
        store,
        settings=settings,
        on_new_version=on_new_version,
        on_new_versions=on_new_versions,
        on_recorded=on_recorded,
        on_batch=on_batch,
    )
    held: list[Capture] = []
    held_since = 0.0
    captures = _captures(store, source_ids, settings=settings, crawler=crawler, targets=targets)
    try:
        for capture in captures:
            # Also at each pause (None): a stop during a long silence in the crawl ends it at once.
            if should_stop is not None and should_stop():
                log.info("stopping: the rest of this crawl is not recorded")
                break
            if capture is not None:
                held.append(dated(capture) if dated is not None else capture)
                if len(held) == 1:
                    held_since = time.monotonic()
            if held and (
                capture is None or len(held) >= BATCH_CAPTURES or time.monotonic() - held_since >= BATCH_SECONDS
            ):
                yield from record(held)
                held = []
        yield from record(held)
    finally:
        captures.close()  # a generator: closing it stops the crawl subprocess
    # The pages this run's writes freed go back to the file system (SQLite); not on the way out of an
    # error, which this must not mask: the next run does it.
    store.reclaim()


def _captures(
    store: Store,
    source_ids: Sequence[int],
    *,
    settings: Settings,
    crawler: Crawler | None,
    targets: Sequence[FetchTarget] | None = None,
) -> Generator[Capture | None, None, None]:
    """The sources' captures (None at each pause of the crawl). More than ``LOAD_CHUNK`` sources are
    read and handed to one crawl child (``crawler``, or one kept for this call) ``LOAD_CHUNK`` at a
    time, the next chunk once the last is fetched: neither the fetch targets in this process nor the
    requests queued in the child grow with the number of sources (a `watcher check` of 5,000 pages
    peaked 10-16 % above one of 500 with every target handed over at once). ``targets`` given are
    handed over as they are, in chunks alike."""
    chunks = _target_chunks(store, source_ids, targets)
    if len(targets if targets is not None else source_ids) <= LOAD_CHUNK:
        chunk = next(chunks, [])
        if crawler is not None:
            yield from crawler.crawl_with_pauses(chunk, pause_seconds=BATCH_PAUSE_SECONDS)
        else:
            yield from crawl_with_pauses(chunk, settings=settings, pause_seconds=BATCH_PAUSE_SECONDS)
        return
    kept = crawler if crawler is not None else Crawler(settings)
    try:
        for chunk in chunks:
            yield from kept.crawl_with_pauses(chunk, pause_seconds=BATCH_PAUSE_SECONDS)
    finally:
        if crawler is None:
            kept.close()


def _target_chunks(
    store: Store, source_ids: Sequence[int], targets: Sequence[FetchTarget] | None
) -> Iterator[Sequence[FetchTarget]]:
    """The fetch targets ``LOAD_CHUNK`` at a time: slices of ``targets`` when given, else each chunk
    of ``source_ids`` read when it is reached."""
    if targets is not None:
        for start in range(0, len(targets), LOAD_CHUNK):
            yield targets[start : start + LOAD_CHUNK]
        return
    for start in range(0, len(source_ids), LOAD_CHUNK):
        yield _load_targets(store, source_ids[start : start + LOAD_CHUNK])


def _record_batch(
    store: Store,
    captures: Sequence[Capture],
    *,
    settings: Settings,
    on_new_version: VersionHook | None,
    on_recorded: Callable[[Session, CheckResult], None] | None,
    on_batch: BatchHook | None = None,
    on_new_versions: VersionsHook | None = None,
) -> Iterator[CheckResult]:
    """Record ``captures`` in one transaction, then yield their results; when that fails, record them
    again one by one, each in its own transaction. A capture that fails alone too is recorded as a
    failed check (``record_failed``, with the error) in a transaction of its own, so that one page that
    trips a bug neither stops the run nor silences the others; if even that fails (the database is
    gone, say), the error is raised."""

    def some(session: Session, captures: Sequence[Capture]) -> list[CheckResult]:
        # The batch's sources in one query, held until the transaction ends: the recording and
        # ``on_recorded`` (the scheduler's next due time) find them in the session's identity map
        # instead of reading each source once per step (an unmodified row is not kept otherwise).
        sources = session.scalars(select(Source).where(Source.id.in_({c.source_id for c in captures}))).all()
        results = record_captures(
            session, captures, settings=settings, on_new_version=on_new_version, on_new_versions=on_new_versions
        )
        for result in results:
            if on_recorded is not None:
                on_recorded(session, result)
            log.debug("%s %s %s", result.outcome, result.http_status or "-", result.url)
        if on_batch is not None:
            on_batch(session, results)
        del sources
        return results

    if not captures:
        return
    if len(captures) > 1:
        try:
            with store.session() as session:
                results = some(session, captures)
        except Exception as error:
            log.warning(
                "recording %d captures in one transaction failed (%s); recording them one by one",
                len(captures),
                one_line(str(error))[:300],
            )
        else:
            yield from results
            return
    for capture in captures:
        try:
            with store.session() as session:
                (result,) = some(session, [capture])
        except Exception as error:
            with store.session() as session:
                (result,) = some(session, [unrecordable(capture, error)])
        yield result
