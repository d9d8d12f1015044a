"""The capture pipeline: a Capture becomes a Check, and — when the page's text changed — a Snapshot,
a TextVersion and a Change against the previous comparable version.

One place decides what a capture is (see ``record_capture``): fetch errors and gate failures become
failed checks and never reach the diff; unchanged text costs one check row, not a copy.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.capture import Capture, FetchTarget
from watcher.changes import diff_texts
from watcher.config import Settings
from watcher.db import Store
from watcher.extract import EXTRACTOR_VERSION, Extracted, extract_document
from watcher.models import Change, Check, Snapshot, Source, TextVersion
from watcher.quality import assess

log = logging.getLogger(__name__)

# Outcomes of a check (the vocabulary of DESIGN.md §2).
CHANGED, UNCHANGED, NOT_MODIFIED, ERROR, BLOCKED = "changed", "unchanged", "not_modified", "error", "blocked"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    source_id: int
    url: str
    check_id: int
    outcome: str
    http_status: int | None
    snapshot_id: int | None
    change_id: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "url": self.url,
            "check_id": self.check_id,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "snapshot_id": self.snapshot_id,
            "change_id": self.change_id,
            "error": self.error,
        }


# Called for every new text version with (session, new, previous); the claim analysis hooks in here.
VersionHook = Callable[[Session, TextVersion, TextVersion | None], None]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def latest_text_version(session: Session, source_id: int) -> TextVersion | None:
    return session.scalar(
        select(TextVersion)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .where(TextVersion.source_id == source_id, TextVersion.extractor_version == EXTRACTOR_VERSION)
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
        .limit(1)
    )


def _safe_extract(capture: Capture) -> Extracted | None:
    if capture.error_kind or not capture.body:
        return None
    try:
        return extract_document(capture.body, content_type=capture.header("Content-Type"),
                                url=capture.final_url)
    except Exception:
        log.exception("extraction failed for %s", capture.final_url)
        return None


def record_capture(session: Session, capture: Capture, *, settings: Settings,
                   on_new_version: VersionHook | None = None) -> CheckResult:
    source = session.get(Source, capture.source_id)
    if source is None:
        raise LookupError(f"capture for unknown source {capture.source_id}")
    check = Check(source_id=source.id, checked_at=capture.fetched_at, duration_ms=capture.duration_ms,
                  http_status=capture.status, final_url=capture.final_url or None, outcome=ERROR)
    if capture.body:
        check.body_sha256 = sha256_hex(capture.body)
        check.body_size = len(capture.body)
    session.add(check)
    snapshot: Snapshot | None = None
    change: Change | None = None

    if capture.error_kind is None and capture.status == 304:
        check.outcome = NOT_MODIFIED
    else:
        previous = latest_text_version(session, source.id)
        if previous is not None and check.body_sha256 == previous.snapshot.sha256 and capture.status == 200:
            check.outcome = UNCHANGED  # byte-identical to the last snapshot: nothing to extract
        else:
            site_document = None
            if source.kind == "site":  # a sitemap or feed compares as its list of URLs (watcher.discovery)
                from watcher.discovery import assess_site_document

                site_document = assess_site_document(capture, max_bytes=settings.max_body_bytes)
            if site_document is not None:
                extracted, verdict = site_document
            else:
                extracted = _safe_extract(capture)
                verdict = assess(capture, extracted)
            if not verdict.ok or extracted is None:
                check.outcome = verdict.outcome or ERROR
                check.error_kind = verdict.kind or "empty"
                check.error = verdict.reason or "no text could be extracted"
            else:
                text_sha = sha256_hex(extracted.text.encode("utf-8"))
                if previous is not None and previous.text_sha256 == text_sha:
                    check.outcome = UNCHANGED
                else:
                    snapshot, version = _store_snapshot(session, source, capture, extracted, text_sha)
                    check.outcome = CHANGED
                    if previous is not None:
                        change = _store_change(session, previous, version, settings=settings)
                    if on_new_version is not None:
                        on_new_version(session, version, previous)
        if check.outcome in (CHANGED, UNCHANGED):
            source.etag = capture.header("ETag")
            source.last_modified = capture.header("Last-Modified")
    session.flush()
    if snapshot is not None:
        check.snapshot_id = snapshot.id
    session.flush()
    return CheckResult(source_id=source.id, url=source.url, check_id=check.id, outcome=check.outcome,
                       http_status=check.http_status, snapshot_id=snapshot.id if snapshot else None,
                       change_id=change.id if change else None, error=check.error)


def _store_snapshot(session: Session, source: Source, capture: Capture, extracted: Extracted,
                    text_sha: str) -> tuple[Snapshot, TextVersion]:
    content_type = capture.header("Content-Type")
    snapshot = Snapshot(
        source_id=source.id, fetched_at=capture.fetched_at, requested_url=capture.requested_url,
        final_url=capture.final_url, http_status=capture.status or 0, headers=capture.headers,
        content_type=content_type[:200] if content_type else None, encoding=extracted_encoding(capture),
        sha256=sha256_hex(capture.body), size=len(capture.body), compression="zlib",
        raw=zlib.compress(capture.body, 6),
    )
    session.add(snapshot)
    session.flush()
    version = TextVersion(snapshot_id=snapshot.id, source_id=source.id, extractor_version=EXTRACTOR_VERSION,
                          title=extracted.title, language=extracted.language, text=extracted.text,
                          text_sha256=text_sha)
    session.add(version)
    session.flush()
    return snapshot, version


def extracted_encoding(capture: Capture) -> str | None:
    from watcher.extract import decode_body

    try:
        return decode_body(capture.body, content_type=capture.header("Content-Type")).encoding
    except Exception:
        return None


def _store_change(session: Session, old: TextVersion, new: TextVersion, *, settings: Settings) -> Change:
    diff = diff_texts(old.text, new.text, timeout=settings.diff_timeout)
    change = Change(source_id=new.source_id, old_version_id=old.id, new_version_id=new.id,
                    inserted_chars=diff.inserted_chars, deleted_chars=diff.deleted_chars,
                    ops=compact_ops(diff.ops), diff_seconds=diff.seconds)
    session.add(change)
    session.flush()
    return change


def compact_ops(ops: list[tuple[int, str]]) -> list[list[int | str]]:
    """Stored diff ops: inserted and deleted text in full, equal runs as their length only — both
    versions' texts are stored already, so repeating the unchanged text would double the cost."""
    return [[op, len(text)] if op == 0 else [op, text] for op, text in ops]


def raw_bytes(snapshot: Snapshot) -> bytes:
    if snapshot.compression == "zlib":
        return zlib.decompress(snapshot.raw)
    return snapshot.raw


def targets_for(sources: Sequence[Source]) -> list[FetchTarget]:
    return [FetchTarget(source_id=s.id, url=s.url, etag=s.etag, last_modified=s.last_modified)
            for s in sources]


def check_sources(store: Store, source_ids: Sequence[int], *, settings: Settings,
                  on_new_version: VersionHook | None = None,
                  on_recorded: Callable[[Session, CheckResult], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> Iterator[CheckResult]:
    """Fetch the sources and record each capture in its own transaction, as it arrives.

    ``on_recorded`` runs inside that transaction (the scheduler stores the next due time there, so a
    check and its schedule commit together). When ``should_stop()`` turns true the captures still to
    come are not recorded and the crawl is stopped: what was recorded stays whole.
    """
    from watcher.crawl import crawl

    with store.session() as session:
        sources = [s for s in (session.get(Source, i) for i in source_ids) if s is not None]
        targets = targets_for(sources)
    captures = crawl(targets, settings=settings)
    try:
        for capture in captures:
            if should_stop is not None and should_stop():
                log.info("stopping: the rest of this crawl is not recorded")
                return
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
