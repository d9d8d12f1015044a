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

from sqlalchemy import Table, delete, insert, select
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


def rebuild_steps(session: Session, source_id: int) -> int | None:
    """Replace a page's steps with those of its profiled versions; returns its newest profile's id."""
    source = session.get(Source, source_id)
    session.execute(delete(IndicationStep).where(IndicationStep.source_id == source_id))
    if source is None:
        return None
    rows = session.execute(
        select(Snapshot.id, Snapshot.fetched_at, ClaimProfileRecord.indications)
        .select_from(ClaimProfileRecord)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .where(
            TextVersion.source_id == source_id,
            TextVersion.extractor_version == source_extractor_version(source),
            ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
        )
        .order_by(Snapshot.fetched_at, Snapshot.id)
    ).all()
    steps = [{**step, "source_id": source_id} for step in steps_of((r[0], r[1], r[2]) for r in rows)]
    if steps:  # a Core insert: no ORM bulk machinery for a few plain rows
        session.connection().execute(insert(cast(Table, IndicationStep.__table__)), steps)
    return newest_profile_id(session, source_id)


def newest_profile_id(session: Session, source_id: int) -> int | None:
    return session.scalar(
        select(ClaimProfileRecord.id)
        .where(ClaimProfileRecord.source_id == source_id)
        .order_by(ClaimProfileRecord.id.desc())
        .limit(1)
    )
