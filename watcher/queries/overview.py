"""What the dashboard's overview and clinic pages show that no other query gives: per source, the
claims of its latest version and its last check; per clinic, how many indications it claims and how
many references it cites over time; the alert that is the evidence of a clinic's current claim.

Claims come from the stored claim profiles of the current analyser version; per snapshot the text
version of the current extractor is preferred (as in ``watcher.queries.claims``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.models import Alert, Check, ClaimProfileRecord, Clinic, Snapshot, Source, TextVersion
from watcher.sources import extractor_version_sql

RAISING_KINDS = ("new_indication", "claim_strengthened")


def _latest_profiles(session: Session, source_ids: list[int]) -> dict[int, dict[str, Any]]:
    rank = (
        func.row_number()
        .over(
            partition_by=ClaimProfileRecord.source_id,
            order_by=(
                Snapshot.fetched_at.desc(),
                Snapshot.id.desc(),
                case((TextVersion.extractor_version == extractor_version_sql(), 0), else_=1),
                TextVersion.id.desc(),
            ),
        )
        .label("rank")
    )
    ranked = (
        select(
            ClaimProfileRecord.source_id,
            ClaimProfileRecord.indications,
            ClaimProfileRecord.reference_count,
            Snapshot.id.label("snapshot_id"),
            Snapshot.fetched_at,
            rank,
        )
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Source.id == TextVersion.source_id)
        .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION, ClaimProfileRecord.source_id.in_(source_ids))
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.rank == 1)).all()
    return {
        row.source_id: {
            "indications": {
                str(k): int(v)
                for k, v in sorted((row.indications or {}).items(), key=lambda item: (-int(item[1]), item[0]))
                if int(v) > 0
            },
            "reference_count": row.reference_count,
            "snapshot_id": row.snapshot_id,
            "fetched_at": row.fetched_at,
        }
        for row in rows
    }


def _last_checks(session: Session, source_ids: list[int]) -> dict[int, dict[str, Any]]:
    rank = (
        func.row_number()
        .over(partition_by=Check.source_id, order_by=(Check.checked_at.desc(), Check.id.desc()))
        .label("rank")
    )
    ranked = (
        select(
            Check.source_id,
            Check.id,
            Check.checked_at,
            Check.outcome,
            Check.http_status,
            Check.error_kind,
            Check.snapshot_id,
            rank,
        )
        .where(Check.source_id.in_(source_ids))
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.rank == 1)).all()
    return {
        row.source_id: {
            "id": row.id,
            "checked_at": row.checked_at,
            "outcome": row.outcome,
            "http_status": row.http_status,
            "error_kind": row.error_kind,
            "snapshot_id": row.snapshot_id,
        }
        for row in rows
    }


def source_overview(
    session: Session, *, clinic_id: int | None = None, indication: str | None = None
) -> list[dict[str, Any]]:
    """Sources (by clinic name, then URL) with their current claims, last check and counts.
    ``indication``: only the sources whose latest version claims it."""
    query = (
        select(Source, Clinic.name)
        .outerjoin(Clinic, Source.clinic_id == Clinic.id)
        .order_by(Clinic.name.is_(None), Clinic.name, Source.url)
    )
    if clinic_id is not None:
        query = query.where(Source.clinic_id == clinic_id)
    sources = session.execute(query).all()
    ids = [source.id for source, _name in sources]
    profiles: dict[int, dict[str, Any]] = {}
    checks: dict[int, dict[str, Any]] = {}
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        profiles.update(_latest_profiles(session, chunk))
        checks.update(_last_checks(session, chunk))
        counts.update(
            dict(
                session.execute(
                    select(Snapshot.source_id, func.count())
                    .where(Snapshot.source_id.in_(chunk))
                    .group_by(Snapshot.source_id)
                ).all()
            )
        )
    rows = []
    for source, clinic_name in sources:
        profile = profiles.get(source.id)
        if indication and (profile is None or indication not in profile["indications"]):
            continue
        rows.append(
            {
                "id": source.id,
                "url": source.url,
                "kind": source.kind,
                "clinic_id": source.clinic_id,
                "clinic": clinic_name,
                "language": source.language,
                "active": source.active,
                "claims": profile,
                "last_check": checks.get(source.id),
                "snapshots": counts.get(source.id, 0),
            }
        )
    return rows


def clinic_counts(session: Session, clinic_id: int) -> list[dict[str, Any]]:
    """The clinic's number of claimed indications (strength ≥ 1 on any of its pages) and of distinct
    references (stable keys, across its pages) over time: one point per capture that changed either."""
    query = (
        select(
            Source.id,
            Snapshot.id,
            Snapshot.fetched_at,
            TextVersion.extractor_version == extractor_version_sql(),
            ClaimProfileRecord.profile,
        )
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Snapshot.source_id == Source.id)
        .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION, Source.clinic_id == clinic_id)
        .order_by(Snapshot.fetched_at, Snapshot.id, TextVersion.id)
    )
    chosen: dict[int, tuple[bool, int, datetime, dict[str, Any]]] = {}
    order: list[int] = []
    for source_id, snapshot_id, fetched_at, is_current, profile in session.execute(query):
        held = chosen.get(snapshot_id)
        if held is None:
            order.append(snapshot_id)
        if held is None or not held[0]:
            chosen[snapshot_id] = (bool(is_current), source_id, fetched_at, profile or {})
    in_force: dict[int, tuple[set[str], set[str]]] = {}
    points: list[dict[str, Any]] = []
    for snapshot_id in order:
        _extractor, source_id, fetched_at, profile = chosen[snapshot_id]
        claimed = {
            name for name, claim in (profile.get("indications") or {}).items() if int(claim.get("strength", 0)) > 0
        }
        in_force[source_id] = (claimed, set((profile.get("references") or {}).keys()))
        indications = len(set().union(*(page[0] for page in in_force.values())))
        references = len(set().union(*(page[1] for page in in_force.values())))
        if points and (points[-1]["indications"], points[-1]["references"]) == (indications, references):
            continue
        points.append(
            {
                "at": fetched_at,
                "indications": indications,
                "references": references,
                "snapshot_id": snapshot_id,
                "source_id": source_id,
            }
        )
    return points


def raising_alerts(session: Session, *, clinic_id: int | None = None) -> dict[tuple[int | None, str], int]:
    """Per (clinic id, indication), the latest alert that raised a claim (a new indication or a
    strengthened claim): the evidence the matrix links to."""
    query = (
        select(Alert.id, Alert.clinic_id, Alert.indication)
        .where(Alert.kind.in_(RAISING_KINDS), Alert.indication.is_not(None))
        .order_by(Alert.new_fetched_at, Alert.id)
    )
    if clinic_id is not None:
        query = query.where(Alert.clinic_id == clinic_id)
    found: dict[tuple[int | None, str], int] = {}
    for alert_id, cid, indication in session.execute(query):
        found[(cid, str(indication))] = alert_id
    return found


def clinic_time_range(session: Session, clinic_id: int) -> tuple[datetime | None, datetime | None]:
    """The first capture and the last check (or capture) of the clinic's sources."""
    first = session.scalar(
        select(func.min(Snapshot.fetched_at))
        .join(Source, Snapshot.source_id == Source.id)
        .where(Source.clinic_id == clinic_id)
    )
    last_check = session.scalar(
        select(func.max(Check.checked_at))
        .join(Source, Check.source_id == Source.id)
        .where(Source.clinic_id == clinic_id)
    )
    last_snapshot = session.scalar(
        select(func.max(Snapshot.fetched_at))
        .join(Source, Snapshot.source_id == Source.id)
        .where(Source.clinic_id == clinic_id)
    )
    candidates = [value for value in (last_check, last_snapshot) if value is not None]
    return first, max(candidates) if candidates else None
