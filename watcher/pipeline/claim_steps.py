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

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.models import ClaimProfileRecord, IndicationStep, Snapshot, Source, TextVersion
from watcher.sources import source_extractor_version

ProfiledVersion = tuple[int, datetime, dict[str, Any] | None]
CHUNK = 500  # keys per IN (...) list: pages here, sources and passages in watcher.pipeline.passages
STEPS = cast(Table, IndicationStep.__table__)


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


def _profiled(*criteria: ColumnElement[bool]) -> Select[tuple[int, datetime, Any]]:
    """Profiled versions (current analyser) meeting ``criteria``: (snapshot id, capture time,
    {indication: strength})."""
    return (
        select(Snapshot.id, Snapshot.fetched_at, ClaimProfileRecord.indications)
        .select_from(ClaimProfileRecord)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION, *criteria)
    )


def _profiled_versions(source_id: int, extractor_version: str) -> Select[tuple[int, datetime, Any]]:
    """A page's profiled versions (current analyser, this extractor version)."""
    return _profiled(TextVersion.source_id == source_id, TextVersion.extractor_version == extractor_version)


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
    _insert_steps(session, steps)
    return newest_profile_id(session, source_id)


def append_steps(session: Session, appended: Sequence[tuple[TextVersion, int | None]]) -> list[int | None]:
    """``rebuild_steps`` for versions of distinct pages, each appended at the end of its page's chain
    (its profile, if any, stored) and given with the newest profile's id its page's steps were built
    with: the steps of the chain before are those stored, so only the new version's are added (compared
    with the newest profiled version before it). Any other profile stored since (the previous version's,
    profiled late) means the stored steps may be stale: then that page's are rebuilt whole. A few
    statements for all the pages rather than a few each: their later profiles in one query, the profiled
    version before each in one, the new steps by one executemany (per ``CHUNK`` of pages; the inserts
    in the pages' order, around the rebuilds). Returns each page's newest profile's id, as
    ``rebuild_steps``."""
    later = _later_profiles(session, [(v.source_id, p) for v, p in appended if p is not None])
    plan: list[tuple[TextVersion, int | None, Any]] = []  # (version, profile id, newest later profile or None)
    for version, indexed_profile_id in appended:
        source = session.get(Source, version.source_id)
        rows = later.get(version.source_id, [])
        if (
            indexed_profile_id is None  # a page's first version, or one never profiled
            or source is None
            or version.extractor_version != source_extractor_version(source)
            or any(row.text_version_id != version.id or row.analyser_version != ANALYSER_VERSION for row in rows)
        ):
            plan.append((version, None, None))
        else:  # no later profile: the new version has none (a site source), so no step
            plan.append((version, indexed_profile_id, max(rows, key=lambda row: row.id) if rows else None))
    before = _profiled_before(session, [version for version, _id, newest in plan if newest is not None])
    results: list[int | None] = []
    steps: list[dict[str, Any]] = []
    for version, profile_id, newest in plan:
        if profile_id is None:
            _insert_steps(session, steps)  # first: the rows in the order one page at a time writes them
            steps = []
            results.append(rebuild_steps(session, version.source_id))
            continue
        results.append(profile_id if newest is None else int(newest.id))
        if newest is None:
            continue
        snapshot, previous = version.snapshot, before.get(version.source_id)
        chain: list[ProfiledVersion] = [] if previous is None else [previous]
        chain.append((snapshot.id, snapshot.fetched_at, newest.indications))
        steps += [
            {**step, "source_id": version.source_id} for step in steps_of(chain) if step["snapshot_id"] == snapshot.id
        ]
    _insert_steps(session, steps)
    return results


# One statement for any number of pages (an expanding IN): an OR with a term per page was compiled again
# for every new number of pages (issue 14). The pages' smallest profile id bounds the rows read; each
# page's own bound is applied to them here.
_LATER_PROFILES = select(
    ClaimProfileRecord.source_id,
    ClaimProfileRecord.id,
    ClaimProfileRecord.text_version_id,
    ClaimProfileRecord.analyser_version,
    ClaimProfileRecord.indications,
).where(
    ClaimProfileRecord.source_id.in_(bindparam("b_sources", expanding=True)),
    ClaimProfileRecord.id > bindparam("b_after"),
)


def _later_profiles(session: Session, pages: Sequence[tuple[int, int]]) -> dict[int, list[Any]]:
    """The profiles (id, text version, analyser version, indications) stored after the given one, by
    page, for (source id, profile id) pairs."""
    later: dict[int, list[Any]] = {}
    for start in range(0, len(pages), CHUNK):
        after: dict[int, int] = {}
        for source_id, profile_id in pages[start : start + CHUNK]:  # a page twice: after the smaller id
            after[source_id] = min(profile_id, after.get(source_id, profile_id))
        for row in session.execute(_LATER_PROFILES, {"b_sources": list(after), "b_after": min(after.values())}):
            if row.id > after[row.source_id]:
                later.setdefault(row.source_id, []).append(row)
    return later


def _profiled_before_query() -> Select[tuple[int, datetime, Any, int]]:
    rank = func.row_number().over(
        partition_by=TextVersion.source_id, order_by=(Snapshot.fetched_at.desc(), Snapshot.id.desc())
    )
    ranked = (
        _profiled(
            tuple_(TextVersion.source_id, TextVersion.extractor_version).in_(bindparam("b_pages", expanding=True)),
            TextVersion.id.not_in(bindparam("b_versions", expanding=True)),
        )
        .add_columns(TextVersion.source_id, rank.label("rank"))
        .subquery()
    )
    return select(ranked.c.id, ranked.c.fetched_at, ranked.c.indications, ranked.c.source_id).where(ranked.c.rank == 1)


# Built once, one statement for any number of pages and extractor versions (issue 14).
_PROFILED_BEFORE = _profiled_before_query()


def _profiled_before(session: Session, versions: Sequence[TextVersion]) -> dict[int, ProfiledVersion]:
    """By page, the newest profiled version (in capture order; current analyser, the version's
    extractor version) other than the given version of that page."""
    before: dict[int, ProfiledVersion] = {}
    for start in range(0, len(versions), CHUNK):
        chunk = versions[start : start + CHUNK]
        params = {
            "b_pages": [(version.source_id, version.extractor_version) for version in chunk],
            "b_versions": [version.id for version in chunk],
        }
        for snapshot_id, fetched_at, indications, source_id in session.execute(_PROFILED_BEFORE, params):
            before[source_id] = (snapshot_id, fetched_at, indications)
    return before


def _insert_steps(session: Session, steps: list[dict[str, Any]]) -> None:
    if steps:  # a Core insert: no ORM bulk machinery for plain rows
        session.connection().execute(insert(STEPS), steps)


def newest_profile_id(session: Session, source_id: int) -> int | None:
    return session.scalar(
        select(ClaimProfileRecord.id)
        .where(ClaimProfileRecord.source_id == source_id)
        .order_by(ClaimProfileRecord.id.desc())
        .limit(1)
    )
