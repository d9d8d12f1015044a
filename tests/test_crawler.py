"""The long-lived crawl child of ``watcher run`` (``watcher.crawl.Crawler``), with a real child and a
real local server: batches reuse one process, a killed child's targets become crawl_failed and the
next batch gets a new child, and the child still dies with its parent."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from waiting import STARTUP_SECONDS, is_running, spawn, wait_for

from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.crawl import Crawler
from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.models import Check
from watcher.netguard import LOOPBACK_NETWORKS
from watcher.pipeline.record import CheckResult
from watcher.pipeline.run import check_sources
from watcher.queue import CrawlerPool
from watcher.sources import SourceSpec, add_sources

REPO = Path(__file__).resolve().parent.parent
PAGES = 8


@pytest.fixture
def slow_site(tmp_path: Path) -> Iterator[VersionedSite]:
    """PAGES pages served from routes (/p0.html, …), each its own text."""
    with VersionedSite(root=tmp_path) as server:
        for n in range(PAGES):
            text = f"Text of page {n}. " * 20
            body = f"<html><body><main><h1>Page {n}</h1><p>{text}</p></main></body></html>"
            server.route(f"/p{n}.html", lambda info, body=body: (200, {"Content-Type": "text/html"}, body.encode()))
        yield server


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def settings(**overrides: object) -> Settings:
    base = Settings(allowed_networks=LOOPBACK_NETWORKS, download_delay=0.0, retry_times=0, autothrottle=False)
    return replace(base, **overrides)  # type: ignore[arg-type]


def targets(server: VersionedSite, numbers: range, *, first_id: int = 1) -> list[FetchTarget]:
    return [FetchTarget(source_id=first_id + n, url=server.url(f"/p{n}.html")) for n in numbers]


def test_batches_reuse_one_child(slow_site: VersionedSite) -> None:
    crawler = Crawler(settings())
    try:
        first = list(crawler.crawl(targets(slow_site, range(0, 4))))
        pid = crawler.pid
        assert pid is not None and is_running(pid)
        second = list(crawler.crawl(targets(slow_site, range(4, PAGES), first_id=5)))
        assert crawler.pid == pid
        assert crawler.started == 1
        assert sorted(c.source_id for c in first) == [1, 2, 3, 4]
        assert sorted(c.source_id for c in second) == [9, 10, 11, 12]
        assert {(c.status, c.error_kind) for c in first + second} == {(200, None)}
        # The same URLs again, in a third batch: each target still gets its own capture.
        again = list(crawler.crawl(targets(slow_site, range(0, 2))))
        assert sorted(c.source_id for c in again) == [1, 2] and crawler.pid == pid
    finally:
        crawler.close()
    wait_for(lambda: not is_running(pid), timeout=60, what=f"the crawl child {pid} to end after close()")


def test_a_killed_child_fails_its_targets_and_is_replaced(slow_site: VersionedSite) -> None:
    # A delay: the batch is still being fetched when its child is killed.
    crawler = Crawler(settings(download_delay=0.5))
    try:
        batch = crawler.crawl(targets(slow_site, range(PAGES)))
        first = next(batch)
        pid = crawler.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        rest = list(batch)
        assert first.error_kind is None
        assert len(rest) == PAGES - 1
        failed = [c for c in rest if c.error_kind == "crawl_failed"]
        assert failed, "no target was left when the child was killed"
        assert all("killed by signal 9" in (c.error or "") for c in failed)
        after = list(crawler.crawl(targets(slow_site, range(2), first_id=100)))
        assert crawler.started == 2 and crawler.pid != pid
        assert {(c.status, c.error_kind) for c in after} == {(200, None)}
    finally:
        crawler.close()


PARENT = """
import sys, time
from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.netguard import LOOPBACK_NETWORKS
from watcher.queue import CrawlerPool
from watcher.sources import SourceSpec, add_sources
from watcher.crawl import Crawler
crawler = Crawler(Settings(allowed_networks=LOOPBACK_NETWORKS, download_delay=0.0, autothrottle=False))
list(crawler.crawl([FetchTarget(source_id=1, url=sys.argv[1])]))
print(crawler.pid, file=sys.stderr, flush=True)
time.sleep(3600)  # holding the child between batches, as the service does
"""


def test_the_kept_child_dies_with_its_parent(slow_site: VersionedSite, tmp_path: Path) -> None:
    log = tmp_path / "parent.log"
    parent = spawn(["-c", PARENT, slow_site.url("/p0.html")], env=dict(os.environ), log=log, cwd=REPO)
    try:
        wait_for(lambda: log.read_text().strip().isdigit(), what="the parent's first batch", details=log.read_text)
        child = int(log.read_text().strip())
        assert is_running(child)
        os.kill(parent.pid, signal.SIGKILL)
        assert parent.wait(timeout=60) == -signal.SIGKILL
        wait_for(lambda: not is_running(child), timeout=60, what=f"the kept crawl child {child} to end")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_workers_pool_keeps_one_child_per_job_at_once(slow_site: VersionedSite) -> None:
    """``watcher worker``'s pool: jobs one after another reuse one child; two jobs at once get two;
    closing the pool ends every child."""
    pool = CrawlerPool(settings())
    try:
        with pool.lease() as first:
            assert first is not None
            assert len(list(first.crawl(targets(slow_site, range(0, 2))))) == 2
            pid = first.pid
        with pool.lease() as again, pool.lease() as other:
            assert again is first and other is not first
            assert len(list(again.crawl(targets(slow_site, range(2, 4), first_id=3)))) == 2
            assert again.pid == pid and again.started == 1
            assert len(list(other.crawl(targets(slow_site, range(4, 6), first_id=5)))) == 2
            pids = [pid, other.pid]
    finally:
        pool.close()
    for child in pids:
        assert child is not None
        wait_for(lambda child=child: not is_running(child), what=f"crawl child {child} to end")
    with CrawlerPool(settings(), keep=False).lease() as none:
        assert none is None  # a job outside a worker: a child of its own per batch


def test_a_stop_ends_a_silent_crawl(tmp_path: Path) -> None:
    """``check_sources`` looks at ``should_stop`` at each pause of the crawl too, not only when a capture
    arrives: a stop while the one page being fetched hangs ends the check at once, with nothing recorded."""
    release = threading.Event()
    asked = threading.Event()

    def hang(_info: RequestInfo) -> RouteResult:
        asked.set()
        release.wait(STARTUP_SECONDS)
        return 200, {"Content-Type": "text/html"}, b"<html><body><p>late</p></body></html>"

    store = Store(f"sqlite:///{tmp_path / 'watcher.db'}")
    results: list[CheckResult] = []
    stop = threading.Event()
    with VersionedSite(root=tmp_path) as server:
        server.route("/hang.html", hang)
        with store.session() as session:
            (source,) = add_sources(session, [SourceSpec(url=server.url("/hang.html"))])
        checking = threading.Thread(
            target=lambda: results.extend(
                check_sources(store, [source.id], settings=settings(download_timeout=600.0), should_stop=stop.is_set)
            )
        )
        checking.start()
        try:
            assert asked.wait(STARTUP_SECONDS), "the crawl never asked for the page"
            stop.set()
            checking.join(STARTUP_SECONDS)
            stopped_while_silent = not checking.is_alive()
        finally:
            release.set()
            checking.join()
    with store.session() as session:
        recorded = session.scalar(select(func.count()).select_from(Check))
    store.dispose()
    assert stopped_while_silent
    assert results == [] and recorded == 0
