"""Snapshots and checks one at a time or by page: metadata, extracted text and raw bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.errors import NotFoundError
from watcher.history import check_dict
from watcher.models import Check, Screenshot, Snapshot, Source, raw_bytes
from watcher.queries.paging import check_page, page
from watcher.queries.timeline import preferred_versions, screenshot_briefs, snapshot_meta, snapshot_text


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source {source_id}")
    return source


def get_snapshot(session: Session, snapshot_id: int) -> Snapshot:
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFoundError(f"no snapshot {snapshot_id}")
    return snapshot


def snapshot_info(session: Session, snapshot_id: int) -> dict[str, Any]:
    snapshot = get_snapshot(session, snapshot_id)
    version = preferred_versions(session, [snapshot.id]).get(snapshot.id)
    data = snapshot_meta(snapshot, version)
    source = get_source(session, snapshot.source_id)
    data.update(
        {
            "source_id": source.id,
            "source_url": source.url,
            "requested_url": snapshot.requested_url,
            "headers": snapshot.headers,
            "screenshot": screenshot_briefs(session, [snapshot.id]).get(snapshot.id),
        }
    )
    return data


def snapshot_text_of(session: Session, snapshot_id: int) -> dict[str, Any]:
    snapshot = get_snapshot(session, snapshot_id)
    data = snapshot_text(session, snapshot)
    data["source_id"] = snapshot.source_id
    return data


@dataclass(frozen=True)
class RawCapture:
    snapshot_id: int
    body: bytes
    content_type: str | None
    sha256: str


def snapshot_raw(session: Session, snapshot_id: int) -> RawCapture:
    snapshot = get_snapshot(session, snapshot_id)
    return RawCapture(
        snapshot_id=snapshot.id, body=raw_bytes(snapshot), content_type=snapshot.content_type, sha256=snapshot.sha256
    )


def snapshot_screenshot(session: Session, snapshot_id: int) -> RawCapture:
    """The screenshot of a snapshot (the PNG as stored, with its SHA-256)."""
    shot = session.scalar(select(Screenshot).where(Screenshot.snapshot_id == snapshot_id))
    if shot is None:
        raise NotFoundError(f"no screenshot of snapshot {snapshot_id}")
    return RawCapture(snapshot_id=snapshot_id, body=shot.data, content_type=shot.media_type, sha256=shot.sha256)


def checks_page(session: Session, source: Source, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    check_page(limit, offset)
    rows = session.scalars(
        select(Check)
        .where(Check.source_id == source.id)
        .order_by(Check.checked_at, Check.id)
        .offset(offset)
        .limit(limit + 1)
    ).all()
    return page([check_dict(c) for c in rows], limit=limit, offset=offset)


def snapshots_page(session: Session, source: Source, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    check_page(limit, offset)
    rows = list(
        session.scalars(
            select(Snapshot)
            .where(Snapshot.source_id == source.id)
            .order_by(Snapshot.fetched_at, Snapshot.id)
            .offset(offset)
            .limit(limit + 1)
        )
    )
    versions = preferred_versions(session, [s.id for s in rows])
    return page([snapshot_meta(s, versions.get(s.id)) for s in rows], limit=limit, offset=offset)
