"""Indication steps (the claim timelines' index): each change of a page's claimed strength for one
indication, with the page's version before, so that "who claims autism, since when?" reads a few rows
per page instead of every claim profile. Kept with the passage index (``watcher.pipeline.passages``
calls ``rebuild_steps`` for the page of every new version, once its profile is stored, and ``reindex``
for stale pages).

A page's steps come from its chain of profiled versions — current analyser version, the page's
current extractor version (its selectors), in capture order — as ``watcher.queries.claims`` reads
them: a step wherever the strength (0 when the indication is absent) differs from the version
before, the first version compared with nothing claimed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.models import ClaimProfileRecord, IndicationStep, Snapshot, Source, TextVersion
from watcher.sources import source_extractor_version

ProfiledVersion = tuple[int, datetime, dict[str, Any] | None]


def steps_of(chain: Iterable[ProfiledVersion]) -> Iterator[dict[str, Any]]:
    """The steps of a chain of (snapshot id, capture time, {indication: strength}) in capture order."""
    before: dict[str, int] = {}
    previous: tuple[int, datetime] | None = None
    for snapshot_id, fetched_at, indications in chain:
        now = {str(name): int(value) for name, value in (indications or {}).items()}
        for name in sorted(set(before) | set(now)):
            if now.get(name, 0) != before.get(name, 0):
                yield {
                    "indication": name,
                    "snapshot_id": snapshot_id,
                    "fetched_at": fetched_at,
                    "strength": now.get(name, 0),
                    "previous_snapshot_id": previous[0] if previous else None,
                    "previous_fetched_at": previous[1] if previous else None,
                }
        before, previous = now, (snapshot_id, fetched_at)


def _profiled_versions(source_id: int, extractor_version: str) -> Select[tuple[int, datetime, Any]]:
    """A page's profiled versions (current analyser, this extractor version): (snapshot id, capture
    time, {indication: strength})."""
    return (
        select(Snapshot.id, Snapshot.fetched_at, ClaimProfileRecord.indications)
        .select_from(ClaimProfileRecord)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .where(
            TextVersion.source_id == source_id,
            TextVersion.extractor_version == extractor_version,
            ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
        )
    )


def rebuild_steps(session: Session, source_id: int) -> int | None:
    """Replace a page's steps with those of its profiled versions; returns its newest profile's id."""
    source = session.get(Source, source_id)
    session.execute(delete(IndicationStep).where(IndicationStep.source_id == source_id))
    if source is None:
        return None
    rows = session.execute(
        _profiled_versions(source_id, source_extractor_version(source)).order_by(Snapshot.fetched_at, Snapshot.id)
    ).all()
    steps = [{**step, "source_id": source_id} for step in steps_of((r[0], r[1], r[2]) for r in rows)]
    if steps:  # a Core insert: no ORM bulk machinery for a few plain rows
        session.connection().execute(insert(cast(Table, IndicationStep.__table__)), steps)
    return newest_profile_id(session, source_id)


def append_steps(session: Session, version: TextVersion, *, indexed_profile_id: int | None) -> int | None:
    """``rebuild_steps`` for a version appended at the end of its page's chain (``version``, whose
    profile, if any, is stored), when the page's steps were built with ``indexed_profile_id`` as its
    newest profile: the steps of the chain before are those stored, so only the new version's are added
    (compared with the newest profiled version before it). Any other profile stored since (the previous
    version's, profiled late) means the stored steps may be stale: then they are rebuilt whole. Returns
    the page's newest profile's id, as ``rebuild_steps``."""
    source = session.get(Source, version.source_id)
    if indexed_profile_id is None:  # a page's first version, or one never profiled
        return rebuild_steps(session, version.source_id)
    later = session.execute(
        select(
            ClaimProfileRecord.id,
            ClaimProfileRecord.text_version_id,
            ClaimProfileRecord.analyser_version,
            ClaimProfileRecord.indications,
        ).where(ClaimProfileRecord.source_id == version.source_id, ClaimProfileRecord.id > indexed_profile_id)
    ).all()
    if (
        source is None
        or version.extractor_version != source_extractor_version(source)
        or any(row.text_version_id != version.id or row.analyser_version != ANALYSER_VERSION for row in later)
    ):
        return rebuild_steps(session, version.source_id)
    if not later:
        return indexed_profile_id  # the new version has no profile (a site source): no step
    newest = max(later, key=lambda row: row.id)
    before = session.execute(
        _profiled_versions(version.source_id, version.extractor_version)
        .where(TextVersion.id != version.id)
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
        .limit(1)
    ).first()
    snapshot = version.snapshot
    chain: list[ProfiledVersion] = [] if before is None else [(before[0], before[1], before[2])]
    chain.append((snapshot.id, snapshot.fetched_at, newest.indications))
    steps = [{**step, "source_id": version.source_id} for step in steps_of(chain) if step["snapshot_id"] == snapshot.id]
    if steps:
        session.connection().execute(insert(cast(Table, IndicationStep.__table__)), steps)
    return int(newest.id)


def newest_profile_id(session: Session, source_id: int) -> int | None:
    return session.scalar(
        select(ClaimProfileRecord.id)
        .where(ClaimProfileRecord.source_id == source_id)
        .order_by(ClaimProfileRecord.id.desc())
        .limit(1)
    )
