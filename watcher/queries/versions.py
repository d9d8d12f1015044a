"""One version among its source's versions: its neighbours, its stored claim profile, the alerts raised
at it, and the claim findings between two versions (what the diff and snapshot pages show beside the text).

The findings compare the stored profiles of the current analyser version; a version without one (not
analysed yet, or analysed by an older analyser before ``watcher reanalyze``) is analysed in memory
for the answer and nothing is written: the read side never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION, ClaimProfile, analyze, compare
from watcher.describe import describe_alert
from watcher.history import VersionDiff
from watcher.models import Alert, ClaimProfileRecord, Snapshot, TextVersion
from watcher.queries.alerts import alert_fields


def snapshot_sequence(session: Session, source_id: int) -> list[int]:
    """The snapshot ids of a source, oldest capture first."""
    query = select(Snapshot.id).where(Snapshot.source_id == source_id).order_by(Snapshot.fetched_at, Snapshot.id)
    return list(session.scalars(query))


def stored_profile(session: Session, text_version_id: int) -> dict[str, Any] | None:
    """The stored claim profile of a text version (current analyser version), as stored; None if none."""
    data: dict[str, Any] | None = session.scalar(
        select(ClaimProfileRecord.profile).where(
            ClaimProfileRecord.text_version_id == text_version_id,
            ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
        )
    )
    return data


def profile_evidence(profile: dict[str, Any] | None) -> list[str]:
    """The evidence sentences of a stored profile's indications, each once, longest first."""
    indications = (profile or {}).get("indications") or {}
    sentences = {sentence for claim in indications.values() for sentence in claim.get("evidence", [])}
    return sorted(sentences, key=len, reverse=True)


def alerts_at(session: Session, source_id: int, snapshot_ids: list[int]) -> list[dict[str, Any]]:
    """The alerts a source raised (or saw again) at these snapshots, oldest first."""
    if not snapshot_ids:
        return []
    rows = session.scalars(
        select(Alert)
        .where(
            Alert.source_id == source_id,
            or_(Alert.new_snapshot_id.in_(snapshot_ids), Alert.last_snapshot_id.in_(snapshot_ids)),
        )
        .order_by(Alert.id)
    )
    return [alert_fields(alert) for alert in rows]


def open_alert_count(session: Session, *, source_id: int | None = None) -> int:
    """Alerts not acknowledged yet, of one source or of all."""
    query = select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None))
    if source_id is not None:
        query = query.where(Alert.source_id == source_id)
    return session.scalar(query) or 0


def alert_indications(session: Session) -> set[str]:
    """Every indication some alert is about."""
    return {str(i) for i in session.scalars(select(Alert.indication).where(Alert.indication.is_not(None)).distinct())}


def _profile(session: Session, version: TextVersion) -> ClaimProfile:
    data = stored_profile(session, version.id)
    return ClaimProfile.from_dict(data) if data else analyze(version.text)


def findings_between(
    session: Session, old: TextVersion, new: TextVersion, alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The claim findings from one version to another, described, each with the id of the alert that
    recorded it among ``alerts`` (None when no alert did)."""
    by_subject = {(a["kind"], a["indication"] or a["reference"] or ""): a["id"] for a in alerts}
    out = []
    for finding in compare(_profile(session, old), _profile(session, new)):
        data = finding.to_dict()
        data["description"] = describe_alert(data)
        data["alert_id"] = by_subject.get((finding.kind, finding.indication or finding.reference or ""))
        out.append(data)
    return out


@dataclass(frozen=True)
class DiffContext:
    """A diff's two versions placed among their source's versions, with what was found between them."""

    previous: tuple[int, int] | None  # the pair of snapshot ids one step earlier
    following: tuple[int, int] | None  # and one step later
    consecutive: bool  # no version lies between the two
    alerts: list[dict[str, Any]]  # raised at the versions after the old one up to the new one
    findings: list[dict[str, Any]]


def diff_context(session: Session, result: VersionDiff) -> DiffContext:
    sequence = snapshot_sequence(session, result.source.id)
    old_id, new_id = result.old.snapshot_id, result.new.snapshot_id
    old_index, new_index = sequence.index(old_id), sequence.index(new_id)
    between = sequence[min(old_index, new_index) + 1 : max(old_index, new_index) + 1]
    alerts = alerts_at(session, result.source.id, between) if new_index > old_index else []
    return DiffContext(
        previous=(sequence[old_index - 1], old_id) if old_index > 0 else None,
        following=(new_id, sequence[new_index + 1]) if new_index + 1 < len(sequence) else None,
        consecutive=abs(new_index - old_index) == 1,
        alerts=alerts,
        findings=findings_between(session, result.old, result.new, alerts),
    )


def neighbours(session: Session, source_id: int, snapshot_id: int) -> tuple[int | None, int | None]:
    """The snapshot ids before and after one of a source's snapshots (None at either end)."""
    sequence = snapshot_sequence(session, source_id)
    index = sequence.index(snapshot_id)
    return (sequence[index - 1] if index > 0 else None, sequence[index + 1] if index + 1 < len(sequence) else None)
