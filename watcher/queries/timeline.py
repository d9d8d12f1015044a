"""A source's history as a journalist reads it: every check and snapshot with date, hash and outcome,
the claims of each version and the alerts it raised; and the text in force at a given date.

``timeline`` keeps the shape of ``watcher.history.history`` (``source``, ``checks``, ``snapshots``)
and adds, per snapshot, ``indications`` ({indication: strength}, current analyser),
``indication_changes`` (against the previous version) and ``alerts`` (raised at that version, or
recurring there). Queries are a handful per source, whatever its length: raw bytes and texts are
never loaded for a timeline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from watcher.claims import ANALYSER_VERSION
from watcher.describe import STRENGTH_WORDS, describe_alert
from watcher.errors import NotFoundError
from watcher.history import check_dict, checks_of
from watcher.models import Alert, ClaimProfileRecord, Screenshot, Snapshot, Source, TextVersion
from watcher.queries.alerts import alert_fields
from watcher.sources import extractor_version_sql, source_dict


def snapshot_meta(snapshot: Snapshot, version: TextVersion | None) -> dict[str, Any]:
    """A snapshot's metadata with that of the text version chosen for it (None: not extracted)."""
    return {
        "id": snapshot.id,
        "fetched_at": snapshot.fetched_at.isoformat(),
        "sha256": snapshot.sha256,
        "size": snapshot.size,
        "http_status": snapshot.http_status,
        "final_url": snapshot.final_url,
        "content_type": snapshot.content_type,
        "encoding": snapshot.encoding,
        "archive_url": snapshot.archive_url,
        "text_version_id": version.id if version else None,
        "title": version.title if version else None,
        "language": version.language if version else None,
        "text_sha256": version.text_sha256 if version else None,
        "extractor_version": version.extractor_version if version else None,
    }


def screenshot_briefs(session: Session, snapshot_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per snapshot that has one, its screenshot's id, SHA-256, size and media type (not the image)."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(snapshot_ids), 500):
        rows = session.execute(
            select(
                Screenshot.id, Screenshot.snapshot_id, Screenshot.sha256, Screenshot.size, Screenshot.media_type
            ).where(Screenshot.snapshot_id.in_(snapshot_ids[start : start + 500]))
        ).all()
        for shot_id, snapshot_id, sha256, size, media_type in rows:
            found[snapshot_id] = {"id": shot_id, "sha256": sha256, "size": size, "media_type": media_type}
    return found


def preferred_versions(session: Session, snapshot_ids: list[int]) -> dict[int, TextVersion]:
    """Per snapshot, the text version of its source's current extractor version (the current
    extractor with the source's selectors), else the newest one (texts deferred)."""
    chosen: dict[int, TextVersion] = {}
    current: set[int] = set()
    for start in range(0, len(snapshot_ids), 500):
        chunk = snapshot_ids[start : start + 500]
        rows = session.execute(
            select(TextVersion, TextVersion.extractor_version == extractor_version_sql())
            .options(defer(TextVersion.text))
            .join(Source, Source.id == TextVersion.source_id)
            .where(TextVersion.snapshot_id.in_(chunk))
            .order_by(TextVersion.id)
        )
        for version, is_current in rows:
            if version.snapshot_id not in current:
                chosen[version.snapshot_id] = version
                if is_current:
                    current.add(version.snapshot_id)
    return chosen


def _snapshots(session: Session, source_id: int) -> list[Snapshot]:
    return list(
        session.scalars(
            select(Snapshot).where(Snapshot.source_id == source_id).order_by(Snapshot.fetched_at, Snapshot.id)
        )
    )


def _indications_by_version(session: Session, source_id: int) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(ClaimProfileRecord.text_version_id, ClaimProfileRecord.indications).where(
            ClaimProfileRecord.source_id == source_id, ClaimProfileRecord.analyser_version == ANALYSER_VERSION
        )
    ).all()
    return {version_id: {str(k): int(v) for k, v in (indications or {}).items()} for version_id, indications in rows}


def alert_brief(alert: Alert, *, recurrence: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        **alert_fields(alert),
        "recurrence": recurrence,
        "occurrences": alert.occurrences,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
    }
    data["description"] = describe_alert(data)
    return data


def _alerts_by_snapshot(session: Session, source_id: int) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for alert in session.scalars(select(Alert).where(Alert.source_id == source_id).order_by(Alert.id)):
        found[alert.new_snapshot_id].append(alert_brief(alert))
        if alert.last_snapshot_id is not None and alert.last_snapshot_id != alert.new_snapshot_id:
            found[alert.last_snapshot_id].append(alert_brief(alert, recurrence=True))
    return found


def indication_changes(before: dict[str, int] | None, after: dict[str, int] | None) -> list[dict[str, Any]]:
    """What changed in the claimed indications from one version to the next (None = not analysed)."""
    if before is None or after is None:
        return []
    changes = []
    for indication in sorted(set(before) | set(after)):
        old, new = before.get(indication), after.get(indication)
        if old != new:
            changes.append({"indication": indication, "before": old, "after": new})
    return changes


def timeline(session: Session, source: Source) -> dict[str, Any]:
    snapshots = _snapshots(session, source.id)
    versions = preferred_versions(session, [s.id for s in snapshots])
    indications = _indications_by_version(session, source.id)
    alerts = _alerts_by_snapshot(session, source.id)
    screenshots = screenshot_briefs(session, [s.id for s in snapshots])
    rows: list[dict[str, Any]] = []
    previous: dict[str, int] | None = None
    for snapshot in snapshots:
        version = versions.get(snapshot.id)
        row = snapshot_meta(snapshot, version)
        current = indications.get(version.id) if version else None
        row["indications"] = current
        row["indication_changes"] = indication_changes(previous, current)
        row["alerts"] = alerts.get(snapshot.id, [])
        row["screenshot"] = screenshots.get(snapshot.id)
        rows.append(row)
        if current is not None:
            previous = current
    return {
        "source": source_dict(source),
        "checks": [check_dict(c) for c in checks_of(session, source)],
        "snapshots": rows,
    }


def describe_strength(strength: int | None) -> str:
    return "not claimed" if strength is None else STRENGTH_WORDS.get(strength, str(strength))


def version_at(session: Session, source: Source, at: datetime) -> dict[str, Any]:
    """The version in force at ``at``: the latest snapshot fetched at or before it, with its text."""
    snapshot = session.scalar(
        select(Snapshot)
        .where(Snapshot.source_id == source.id, Snapshot.fetched_at <= at)
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
        .limit(1)
    )
    if snapshot is None:
        first = session.scalar(
            select(Snapshot.fetched_at).where(Snapshot.source_id == source.id).order_by(Snapshot.fetched_at).limit(1)
        )
        hint = f"its first is from {first.isoformat()}" if first else "it has none yet"
        raise NotFoundError(f"source {source.id} has no snapshot at or before {at.isoformat()} ({hint})")
    following = session.execute(
        select(Snapshot.id, Snapshot.fetched_at)
        .where(
            Snapshot.source_id == source.id,
            or_(
                Snapshot.fetched_at > snapshot.fetched_at,
                (Snapshot.fetched_at == snapshot.fetched_at) & (Snapshot.id > snapshot.id),
            ),
        )
        .order_by(Snapshot.fetched_at, Snapshot.id)
        .limit(1)
    ).first()
    data = snapshot_text(session, snapshot)
    data.update(
        {
            "source": source_dict(source),
            "at": at.isoformat(),
            "next_snapshot": {"id": following[0], "fetched_at": following[1].isoformat()} if following else None,
        }
    )
    return data


def snapshot_text(session: Session, snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot's metadata and extracted text (current extractor's version when there is one)."""
    chosen = preferred_versions(session, [snapshot.id]).get(snapshot.id)
    return {
        "snapshot": snapshot_meta(snapshot, chosen),
        "text": chosen.text if chosen else None,  # the deferred text loads here, for this one version
    }
