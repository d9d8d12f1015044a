"""Several captures per transaction (``watcher.pipeline.run.check_sources``), on both databases, with a
real crawl of a real local server: fewer commits than checks, each result yielded once committed, and a
batch whose transaction fails is recorded again one by one, so one bad capture loses none of the others."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.db import Store
from watcher.demo.site import VersionedSite
from watcher.models import Check, Snapshot, TextVersion
from watcher.pipeline import run
from watcher.pipeline.record import RECORD_FAILED, CheckResult
from watcher.sources import SourceSpec, add_sources

PAGES = 6
PAGE = "<html><head><title>page {n}</title></head><body><main><h1>Page {n}</h1><p>{text}</p></main></body></html>"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[VersionedSite]:
    root = tmp_path / "site"
    for n in range(PAGES):
        folder = root / f"p{n}"
        folder.mkdir(parents=True)
        (folder / "1.html").write_text(PAGE.format(n=n, text=f"Text of page number {n}. " * 20), encoding="utf-8")
    with VersionedSite(root=root) as server:
        yield server


@pytest.fixture
def one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every capture of these small crawls in one batch: no pause or age bound cuts it."""
    monkeypatch.setattr(run, "BATCH_PAUSE_SECONDS", 60.0)
    monkeypatch.setattr(run, "BATCH_SECONDS", 600.0)


def _sources(store: Store, site: VersionedSite) -> list[int]:
    with store.session() as session:
        return [s.id for s in add_sources(session, [SourceSpec(url=site.url(f"/p{n}/")) for n in range(PAGES)])]


def _checked(store: Store) -> set[int]:
    with store.session() as session:
        return set(session.scalars(select(Check.source_id)))


@pytest.mark.usefixtures("one_batch")
def test_captures_share_transactions(store: Store, settings: Settings, site: VersionedSite) -> None:
    ids = _sources(store, site)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda connection: commits.append(1))
    reader = Store(settings.database_url)  # its own engine: its commits are not counted
    try:
        committed_when_yielded = [
            result.source_id in _checked(reader) for result in run.check_sources(store, ids, settings=settings)
        ]
    finally:
        reader.dispose()
    # One transaction reads the targets, one records all six captures.
    assert len(commits) == 2
    assert committed_when_yielded == [True] * PAGES
    assert _checked(store) == set(ids)


@pytest.mark.usefixtures("one_batch")
def test_a_failing_batch_is_recorded_one_by_one(store: Store, settings: Settings, site: VersionedSite) -> None:
    ids = _sources(store, site)
    order: list[int] = []  # the sources in the order their captures are recorded (arrival order)

    def on_recorded(session: Session, result: CheckResult) -> None:
        if result.source_id not in order:
            order.append(result.source_id)
        if len(order) > 3 and result.source_id == order[3]:
            raise RuntimeError("this capture cannot be recorded")

    yielded = []
    with pytest.raises(RuntimeError, match="cannot be recorded"):
        for result in run.check_sources(store, ids, settings=settings, on_recorded=on_recorded):
            yielded.append(result.source_id)
    checked = _checked(store)
    # The batch of six failed as a whole; recorded again one by one, the three captures before the bad
    # one are kept (and were yielded); the bad one fails alone, and again as a failed check (this hook
    # raises for its source whatever the capture), so it raises.
    assert yielded == order[:3]
    assert checked == set(order[:3])
    with store.session() as session:
        assert len(list(session.scalars(select(Check)))) == len(checked)  # none twice


@pytest.mark.usefixtures("one_batch")
def test_a_page_that_cannot_be_recorded_is_a_failed_check(
    store: Store, settings: Settings, site: VersionedSite
) -> None:
    """A bug on one page (here the new-version hook raising for it, as the claim analysis once did on a
    real page) must not stop the run or lose the others: that page becomes a failed check carrying the
    error, once, and every other page is recorded as usual."""
    ids = _sources(store, site)
    bad = ids[2]

    def on_new_version(session: Session, version: TextVersion, previous: TextVersion | None) -> None:
        if version.source_id == bad:
            raise ValueError("max() arg is an empty sequence")

    results = {r.source_id: r for r in run.check_sources(store, ids, settings=settings, on_new_version=on_new_version)}
    assert set(results) == set(ids)
    assert results[bad].outcome == "error" and results[bad].snapshot_id is None
    assert results[bad].error == "recording failed: ValueError: max() arg is an empty sequence"
    assert all(results[i].snapshot_id is not None for i in ids if i != bad)
    with store.session() as session:
        checks = list(session.scalars(select(Check)))
        assert len(checks) == PAGES  # one each: the bad page's failed check, nothing twice
        (failed,) = [c for c in checks if c.source_id == bad]
        assert failed.error_kind == RECORD_FAILED
        assert session.scalar(select(func.count()).select_from(Snapshot).where(Snapshot.source_id == bad)) == 0


def test_many_sources_go_to_one_child_a_chunk_at_a_time(
    store: Store, settings: Settings, site: VersionedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More sources than ``LOAD_CHUNK``: their targets are read and handed to one kept crawl child a
    chunk at a time (so neither process holds them all), and every source is checked once."""
    monkeypatch.setattr(run, "LOAD_CHUNK", 4)
    ids = _sources(store, site)
    handed: list[tuple[int, int]] = []  # (crawler, targets) per hand-over
    children: list[run.Crawler] = []
    real = run.Crawler.crawl_with_pauses

    def counted(self: run.Crawler, targets: Sequence[FetchTarget], *, pause_seconds: float | None) -> Any:
        handed.append((id(self), len(targets)))
        if self not in children:
            children.append(self)
        return real(self, targets, pause_seconds=pause_seconds)

    monkeypatch.setattr(run.Crawler, "crawl_with_pauses", counted)
    results = list(run.check_sources(store, ids, settings=settings))
    assert sorted(r.source_id for r in results) == sorted(ids)
    assert [n for _crawler, n in handed] == [4, PAGES - 4]
    assert len(children) == 1 and children[0].started == 1  # one child for both chunks
    assert children[0].pid is None  # closed at the end: it was this call's own
    assert _checked(store) == set(ids)
