"""Claim timelines: for each clinic × indication, when it was first claimed, its strength over time
and when it was dropped; and, across clinics, who claims an indication now and since when.

Built from the stored claim profiles (current analyser version) in capture order. A clinic's
strength for an indication at a moment is the highest strength among the versions of its pages in
force at that moment (a page's version stays in force until its next snapshot; failed checks
change nothing). Each step names the snapshot that shows it, and the page's snapshot just before
(``previous_snapshot_id``, ``previous_fetched_at``), so that "what did the page say just before?" is one
``watcher history SOURCE --at`` or ``watcher diff`` away. Sources without a clinic form their own
group each. Strength 0 means "not claimed" (dropped, negated or excluded). Versions are those of the
current extractor, as in the pipeline's comparisons.

For one indication the steps come from ``indication_steps`` (watcher.pipeline.claim_steps: each change
of a page's strength, kept as versions are recorded), an index range per indication, so "who claims
autism now?" reads neither every profile nor every version. A store with pages not indexed yet
(upgraded, before ``watcher reindex``) is read the slow way: the database finds the versions where a
page's strength changed (JSON extraction and a window function).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.models import (
    ClaimProfileRecord,
    Clinic,
    IndicationStep,
    Snapshot,
    Source,
    TextVersion,
    UTCDateTime,
)
from watcher.pipeline.passages import index_incomplete
from watcher.queries.choices import indication_id
from watcher.sources import extractor_version_sql


@dataclass
class _Timeline:
    clinic: str | None
    clinic_id: int | None
    indication: str
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        current = self.steps[-1]["strength"] if self.steps else 0
        since = None
        for index, step in enumerate(self.steps):
            if step["strength"] > 0 and (index == 0 or self.steps[index - 1]["strength"] == 0):
                since = step["at"]
        return {
            "clinic": self.clinic,
            "clinic_id": self.clinic_id,
            "indication": self.indication,
            "current_strength": current,
            "claimed_now": current > 0,
            "first_claimed": self.steps[0] if self.steps else None,
            "claimed_since": since if current > 0 else None,
            "dropped_at": self.steps[-1]["at"] if self.steps and current == 0 else None,
            "steps": self.steps,
        }


@dataclass(frozen=True)
class _Row:
    """One version of a page: its claims (indication → strength ≥ 1) and the page's version before."""

    source_id: int
    source_url: str
    clinic_id: int | None
    clinic: str | None
    snapshot_id: int
    fetched_at: datetime
    indications: dict[str, int]
    previous_snapshot_id: int | None
    previous_fetched_at: datetime | None


def _versions(*columns: Any) -> Select[Any]:
    """Profiled versions (current analyser and extractor) with their snapshot, page and clinic."""
    return (
        select(*columns)
        .select_from(ClaimProfileRecord)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Snapshot.source_id == Source.id)
        .outerjoin(Clinic, Source.clinic_id == Clinic.id)
        .where(
            ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
            TextVersion.extractor_version == extractor_version_sql(),
        )
    )


def _all_rows(session: Session, *, clinic_id: int | None) -> Iterator[_Row]:
    """Every profiled version, in capture order."""
    query = _versions(
        Source.id,
        Source.url,
        Source.clinic_id,
        Clinic.name,
        Snapshot.id,
        Snapshot.fetched_at,
        ClaimProfileRecord.indications,
    ).order_by(Snapshot.fetched_at, Snapshot.id)
    if clinic_id is not None:
        query = query.where(Source.clinic_id == clinic_id)
    before: dict[int, tuple[int, datetime]] = {}
    for source_id, url, cid, clinic, snapshot_id, fetched_at, indications in session.execute(query):
        previous = before.get(source_id)
        before[source_id] = (snapshot_id, fetched_at)
        yield _Row(
            source_id,
            url,
            cid,
            clinic,
            snapshot_id,
            fetched_at,
            {str(k): int(v) for k, v in (indications or {}).items() if int(v) > 0},
            previous[0] if previous else None,
            previous[1] if previous else None,
        )


def _indication_rows(session: Session, *, clinic_id: int | None, indication: str) -> Iterator[_Row]:
    """The versions where a page's strength for one indication changed, from the index of steps."""
    if index_incomplete(session):  # pages not indexed yet (an upgraded store): read them the slow way
        yield from _scanned_indication_rows(session, clinic_id=clinic_id, indication=indication)
        return
    query = (
        select(
            IndicationStep.source_id,
            Source.url,
            Source.clinic_id,
            Clinic.name,
            IndicationStep.snapshot_id,
            IndicationStep.fetched_at,
            IndicationStep.strength,
            IndicationStep.previous_snapshot_id,
            IndicationStep.previous_fetched_at,
        )
        .join(Source, Source.id == IndicationStep.source_id)
        .outerjoin(Clinic, Source.clinic_id == Clinic.id)
        .where(IndicationStep.indication == indication)
        .order_by(IndicationStep.fetched_at, IndicationStep.snapshot_id)
    )
    if clinic_id is not None:
        query = query.where(Source.clinic_id == clinic_id)
    yield from _step_rows(session.execute(query), indication)


def _scanned_indication_rows(session: Session, *, clinic_id: int | None, indication: str) -> Iterator[_Row]:
    """The versions where a page's strength for one indication changed, found by the database: the
    strength is read from the denormalised ``indications`` JSON and compared with the page's version
    before (a window function), so only the changes reach Python, with their previous versions."""
    strength = ClaimProfileRecord.indications[indication].as_integer()

    def page_before(value: Any, **kind: Any) -> Any:
        return func.lag(value, **kind).over(
            partition_by=Snapshot.source_id, order_by=(Snapshot.fetched_at, Snapshot.id)
        )

    inner = _versions(
        Source.id.label("source_id"),
        Source.url.label("url"),
        Source.clinic_id.label("clinic_id"),
        Clinic.name.label("clinic"),
        Snapshot.id.label("snapshot_id"),
        Snapshot.fetched_at.label("fetched_at"),
        func.coalesce(strength, 0).label("strength"),
        func.coalesce(page_before(strength), 0).label("before"),
        page_before(Snapshot.id).label("previous_id"),
        page_before(Snapshot.fetched_at, type_=UTCDateTime()).label("previous_at"),
    )
    if clinic_id is not None:
        inner = inner.where(Source.clinic_id == clinic_id)
    versions = inner.subquery()
    query = (
        select(*(versions.c[name] for name in STEP_COLUMNS))
        .where(versions.c.strength != versions.c.before)
        .order_by(versions.c.fetched_at, versions.c.snapshot_id)
    )
    yield from _step_rows(session.execute(query), indication)


STEP_COLUMNS = ("source_id", "url", "clinic_id", "clinic", "snapshot_id", "fetched_at", "strength", "previous_id",
                "previous_at")  # fmt: skip


def _step_rows(rows: Iterable[Any], indication: str) -> Iterator[_Row]:
    """Rows of ``STEP_COLUMNS`` (a page's strength for one indication at a version, 0: not claimed)."""
    for source_id, url, cid, clinic, snapshot_id, fetched_at, strength, previous_id, previous_at in rows:
        claims = {indication: int(strength)} if strength > 0 else {}
        yield _Row(source_id, url, cid, clinic, snapshot_id, fetched_at, claims, previous_id, previous_at)


def claim_timelines(session: Session, *, clinic_id: int | None = None, indication: str | None = None) -> dict[str, Any]:
    indication = indication_id(indication) if indication else None
    timelines: dict[tuple[Any, str], _Timeline] = {}
    # Per clinic group: each page's claims in force, and the group's strength per indication.
    pages: dict[Any, dict[int, dict[str, int]]] = {}
    levels: dict[Any, dict[str, int]] = {}
    rows = (
        _indication_rows(session, clinic_id=clinic_id, indication=indication)
        if indication
        else _all_rows(session, clinic_id=clinic_id)
    )
    for row in rows:
        group = row.clinic_id if row.clinic_id is not None else ("source", row.source_id)
        in_force = pages.setdefault(group, {})
        old = in_force.get(row.source_id, {})
        in_force[row.source_id] = row.indications
        level = levels.setdefault(group, {})
        for name in sorted(set(old) | set(row.indications)):
            strength = max(page.get(name, 0) for page in in_force.values())
            if strength == level.get(name, 0):
                continue
            level[name] = strength
            timeline = timelines.setdefault((group, name), _Timeline(row.clinic, row.clinic_id, name))
            timeline.steps.append(
                {
                    "at": row.fetched_at.isoformat(),
                    "strength": strength,
                    "snapshot_id": row.snapshot_id,
                    "source_id": row.source_id,
                    "source_url": row.source_url,
                    "previous_snapshot_id": row.previous_snapshot_id,
                    "previous_fetched_at": row.previous_fetched_at.isoformat() if row.previous_fetched_at else None,
                }
            )
    found = [t.to_dict() for t in timelines.values()]
    found.sort(key=lambda t: (t["clinic"] or "", t["first_claimed"]["at"], t["indication"]))
    return {"analyser_version": ANALYSER_VERSION, "timelines": found, "current": _current(found)}


def _current(timelines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per indication, the clinics that claim it now, the earliest claimant first."""
    by_indication: dict[str, list[dict[str, Any]]] = {}
    for timeline in timelines:
        if timeline["claimed_now"]:
            by_indication.setdefault(timeline["indication"], []).append(
                {
                    "clinic": timeline["clinic"],
                    "clinic_id": timeline["clinic_id"],
                    "strength": timeline["current_strength"],
                    "since": timeline["claimed_since"],
                    "source_url": timeline["steps"][-1]["source_url"],
                }
            )
    return [
        {"indication": name, "clinics": sorted(clinics, key=lambda c: c["since"])}
        for name, clinics in sorted(by_indication.items())
    ]


def claim_steps_rows(
    data: dict[str, Any], *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Flat rows, one per step, for CSV export: clinic, indication, date, strength, snapshot, page."""
    rows = []
    for timeline in data["timelines"]:
        for step in timeline["steps"]:
            at = datetime.fromisoformat(step["at"])
            if (since is not None and at < since) or (until is not None and at > until):
                continue
            rows.append(
                {
                    "clinic": timeline["clinic"],
                    "indication": timeline["indication"],
                    **step,
                    "claimed": step["strength"] > 0,
                }
            )
    return rows
