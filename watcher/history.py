"""Checks and snapshots of a source as plain data, and the diff between two of its versions (``watcher
diff``, the API and the dashboard); the timeline itself is ``watcher.queries.timeline``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.changes import OP_NAMES, TextDiff, diff_texts
from watcher.errors import InputError, NotFoundError
from watcher.models import Check, Snapshot, Source, TextVersion
from watcher.sources import source_dict


def checks_of(session: Session, source: Source) -> list[Check]:
    return list(session.scalars(select(Check).where(Check.source_id == source.id).order_by(Check.checked_at, Check.id)))


def snapshots_of(session: Session, source: Source) -> list[Snapshot]:
    return list(
        session.scalars(
            select(Snapshot).where(Snapshot.source_id == source.id).order_by(Snapshot.fetched_at, Snapshot.id)
        )
    )


def check_dict(check: Check) -> dict[str, Any]:
    return {
        "id": check.id,
        "checked_at": check.checked_at.isoformat(),
        "outcome": check.outcome,
        "http_status": check.http_status,
        "duration_ms": check.duration_ms,
        "final_url": check.final_url,
        "snapshot_id": check.snapshot_id,
        "body_sha256": check.body_sha256,
        "error_kind": check.error_kind,
        "error": check.error,
        "archive_url": check.archive_url,
        "rendered": check.rendered,
        "hint": check.hint,
        "extraction_doubt": check.extraction_doubt,
    }


@dataclass(frozen=True)
class VersionDiff:
    source: Source
    old: TextVersion
    new: TextVersion
    diff: TextDiff

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": source_dict(self.source),
            "from": {
                "snapshot_id": self.old.snapshot_id,
                "fetched_at": self.old.snapshot.fetched_at.isoformat(),
                "sha256": self.old.snapshot.sha256,
            },
            "to": {
                "snapshot_id": self.new.snapshot_id,
                "fetched_at": self.new.snapshot.fetched_at.isoformat(),
                "sha256": self.new.snapshot.sha256,
            },
            "inserted_chars": self.diff.inserted_chars,
            "deleted_chars": self.diff.deleted_chars,
            "ops": [{"op": OP_NAMES[op], "text": text} for op, text in self.diff.ops],
            # The edited, removed and added lines with their numbers in each version (null: absent).
            "changed_lines": [
                {
                    "old_line": row.old_number,
                    "new_line": row.new_number,
                    "ops": [{"op": OP_NAMES[op], "text": text} for op, text in row.ops],
                }
                for row in self.diff.lines
                if row.changed
            ],
        }


def _version_of_snapshot(session: Session, source: Source, snapshot_id: int) -> TextVersion:
    version = session.scalar(
        select(TextVersion).where(TextVersion.snapshot_id == snapshot_id).order_by(TextVersion.id.desc()).limit(1)
    )
    if version is None or version.source_id != source.id:
        raise NotFoundError(
            f"snapshot {snapshot_id} is not a snapshot of source {source.id} (see `watcher history {source.id}`)"
        )
    return version


def diff_versions(
    session: Session, source: Source, *, from_id: int | None = None, to_id: int | None = None, timeout: float = 2.0
) -> VersionDiff:
    """Diff two snapshots of a source (ids are snapshot ids); default: the last two."""
    snapshots = snapshots_of(session, source)
    if to_id is None and from_id is None and len(snapshots) < 2:
        raise InputError(f"source {source.id} has {len(snapshots)} snapshot(s); a diff needs two")
    if to_id is None:
        if not snapshots:
            raise InputError(f"source {source.id} has no snapshots yet")
        to_id = snapshots[-1].id
    new = _version_of_snapshot(session, source, to_id)
    if from_id is None:
        earlier = [s for s in snapshots if (s.fetched_at, s.id) < (new.snapshot.fetched_at, new.snapshot.id)]
        if not earlier:
            raise InputError(f"snapshot {to_id} is the first of source {source.id}; give --from")
        from_id = earlier[-1].id
    old = _version_of_snapshot(session, source, from_id)
    return VersionDiff(source, old, new, diff_texts(old.text, new.text, timeout=timeout))
