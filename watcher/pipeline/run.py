"""Running checks (the flow's first step): fetch a batch of sources through the crawl subprocess,
record each capture as it arrives (``watcher.pipeline.record``, with the claim analysis of
``watcher.pipeline.analyse`` as its new-version hook), keep the page requisites of new snapshots
(``watcher.pipeline.requisites``, sources with ``--requisites``), then let discovery
(``watcher.pipeline.discover``) add the new pages of site sources, checked in the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy.orm import Session

from watcher.capture import Capture, FetchTarget
from watcher.config import Settings
from watcher.crawl import crawl
from watcher.db import Store
from watcher.models import Source
from watcher.pipeline.analyse import analyse_new_version
from watcher.pipeline.discover import discover_after
from watcher.pipeline.record import CheckResult, VersionHook, record_capture
from watcher.pipeline.requisites import fetch_requisites_after
from watcher.sources import MAX_DEPTH_LIMIT

log = logging.getLogger(__name__)
LOAD_CHUNK = 500  # sources read per session when making the fetch targets


def check_with_discovery(
    store: Store,
    source_ids: Sequence[int],
    *,
    settings: Settings,
    on_recorded: Callable[[Session, CheckResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dated: Callable[[Capture], Capture] | None = None,
) -> Iterator[CheckResult]:
    """Check the sources (``check_sources`` with claim analysis), discover new pages from the site
    sources among them, check those in the same run, and so on up to the depth bound. Yields a
    ``CheckResult`` per check. The entry point of every check: ``watcher check``, ``watcher run``
    and the demo."""
    pending = list(dict.fromkeys(source_ids))
    robots: dict[str, str | None] = {}
    for _round in range(MAX_DEPTH_LIMIT + 1):
        if not pending:
            return
        results = []
        for result in check_sources(
            store,
            pending,
            settings=settings,
            on_new_version=analyse_new_version,
            on_recorded=on_recorded,
            should_stop=should_stop,
            dated=dated,
        ):
            results.append(result)
            yield result
        if should_stop is not None and should_stop():
            return
        fetch_requisites_after(store, results, settings=settings, should_stop=should_stop)
        pending = discover_after(store, results, settings=settings, robots=robots, should_stop=should_stop)


def targets_for(sources: Sequence[Source]) -> list[FetchTarget]:
    return [
        FetchTarget(
            source_id=s.id,
            url=s.url,
            etag=s.etag,
            last_modified=s.last_modified,
            render=s.render,
            screenshot=s.screenshot,
        )
        for s in sources
    ]


def _load_targets(store: Store, source_ids: Sequence[int]) -> list[FetchTarget]:
    """The fetch targets of the sources, read ``LOAD_CHUNK`` rows per session: neither the ORM rows nor
    an identity map of every source is kept (a check of thousands of sources would hold them all)."""
    targets: list[FetchTarget] = []
    for start in range(0, len(source_ids), LOAD_CHUNK):
        with store.session() as session:
            chunk = source_ids[start : start + LOAD_CHUNK]
            targets += targets_for([s for s in (session.get(Source, i) for i in chunk) if s is not None])
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
) -> Iterator[CheckResult]:
    """Fetch the sources and record each capture in its own transaction, as it arrives.

    ``on_recorded`` runs inside that transaction (the scheduler stores the next due time there, so a
    check and its schedule commit together). When ``should_stop()`` turns true the captures still to
    come are not recorded and the crawl is stopped: what was recorded stays whole. ``dated`` gives a
    capture the time it is recorded at, as an imported capture brings its own (the demo's simulated
    timeline); without it a capture keeps the time it was fetched.
    """
    captures = crawl(_load_targets(store, source_ids), settings=settings)
    try:
        for capture in captures:
            if should_stop is not None and should_stop():
                log.info("stopping: the rest of this crawl is not recorded")
                return
            if dated is not None:
                capture = dated(capture)
            with store.session() as session:
                result = record_capture(session, capture, settings=settings, on_new_version=on_new_version)
                if on_recorded is not None:
                    on_recorded(session, result)
            log.debug("%s %s %s", result.outcome, result.http_status or "-", result.url)
            yield result
    finally:
        close = getattr(captures, "close", None)  # a generator: closing it stops the crawl subprocess
        if close is not None:
            close()
