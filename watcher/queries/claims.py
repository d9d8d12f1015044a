"""Claim timelines: for each clinic × indication, when it was first claimed, its strength over time
and when it was dropped; and, across clinics, who claims an indication now and since when.

Built from the stored claim profiles (current analyser version) in capture order. A clinic's
strength for an indication at a moment is the highest strength among the versions of its pages in
force at that moment (a page's version stays in force until its next snapshot; failed checks
change nothing). Each step names the snapshot that shows it, and the page's snapshot just before
(``previous_snapshot_id``, ``previous_fetched_at``), so that "what did the page say just before?" is one
``watcher history SOURCE --at`` or ``watcher diff`` away. Sources without a clinic form their own
group each. Strength 0 means "not claimed" (dropped, negated or excluded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.extract import EXTRACTOR_VERSION
from watcher.models import ClaimProfileRecord, Clinic, Snapshot, Source, TextVersion


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
    source_id: int
    source_url: str
    clinic_id: int | None
    clinic: str | None
    snapshot_id: int
    fetched_at: datetime
    indications: dict[str, int]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rows(session: Session, *, clinic_id: int | None, indication: str | None) -> list[_Row]:
    query = (select(Source.id, Source.url, Source.clinic_id, Clinic.name, Snapshot.id, Snapshot.fetched_at,
                    TextVersion.extractor_version, ClaimProfileRecord.indications)
             .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
             .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
             .join(Source, Snapshot.source_id == Source.id)
             .outerjoin(Clinic, Source.clinic_id == Clinic.id)
             .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION)
             .order_by(Snapshot.fetched_at, Snapshot.id, TextVersion.id))
    if clinic_id is not None:
        query = query.where(Source.clinic_id == clinic_id)
    if indication:
        # Only the sources that ever claimed it — but all of their versions, to see it dropped.
        mentioning = (select(ClaimProfileRecord.source_id)
                      .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
                             cast(ClaimProfileRecord.indications, String)
                             .like(f'%"{_like_escape(indication)}"%', escape="\\")))
        query = query.where(Source.id.in_(mentioning))
    chosen: dict[int, tuple[str, _Row]] = {}
    order: list[int] = []
    for source_id, url, cid, clinic, snapshot_id, fetched_at, extractor, indications in session.execute(query):
        row = _Row(source_id, url, cid, clinic, snapshot_id, fetched_at,
                   {str(k): int(v) for k, v in (indications or {}).items() if int(v) > 0})
        held = chosen.get(snapshot_id)
        if held is None:
            order.append(snapshot_id)
        if held is None or held[0] != EXTRACTOR_VERSION:
            chosen[snapshot_id] = (extractor, row)
    return [chosen[snapshot_id][1] for snapshot_id in order]


def claim_timelines(session: Session, *, clinic_id: int | None = None,
                    indication: str | None = None) -> dict[str, Any]:
    timelines: dict[tuple[Any, str], _Timeline] = {}
    # Per clinic group: each page's claims in force, and the group's strength per indication.
    pages: dict[Any, dict[int, dict[str, int]]] = {}
    last_snapshot: dict[int, tuple[int, datetime]] = {}
    levels: dict[Any, dict[str, int]] = {}
    for row in _rows(session, clinic_id=clinic_id, indication=indication):
        group = row.clinic_id if row.clinic_id is not None else ("source", row.source_id)
        in_force = pages.setdefault(group, {})
        old = in_force.get(row.source_id, {})
        in_force[row.source_id] = row.indications
        level = levels.setdefault(group, {})
        for name in sorted(set(old) | set(row.indications)):
            if indication and name != indication:
                continue
            strength = max(page.get(name, 0) for page in in_force.values())
            if strength == level.get(name, 0):
                continue
            level[name] = strength
            timeline = timelines.setdefault((group, name), _Timeline(row.clinic, row.clinic_id, name))
            before = last_snapshot.get(row.source_id)
            timeline.steps.append({
                "at": row.fetched_at.isoformat(), "strength": strength, "snapshot_id": row.snapshot_id,
                "source_id": row.source_id, "source_url": row.source_url,
                "previous_snapshot_id": before[0] if before else None,
                "previous_fetched_at": before[1].isoformat() if before else None,
            })
        last_snapshot[row.source_id] = (row.snapshot_id, row.fetched_at)
    rows = [t.to_dict() for t in timelines.values()]
    rows.sort(key=lambda t: (t["clinic"] or "", t["first_claimed"]["at"], t["indication"]))
    return {"analyser_version": ANALYSER_VERSION, "timelines": rows, "current": _current(rows)}


def _current(timelines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per indication, the clinics that claim it now, the earliest claimant first."""
    by_indication: dict[str, list[dict[str, Any]]] = {}
    for timeline in timelines:
        if timeline["claimed_now"]:
            by_indication.setdefault(timeline["indication"], []).append({
                "clinic": timeline["clinic"], "clinic_id": timeline["clinic_id"],
                "strength": timeline["current_strength"], "since": timeline["claimed_since"],
                "source_url": timeline["steps"][-1]["source_url"],
            })
    return [{"indication": name, "clinics": sorted(clinics, key=lambda c: c["since"])}
            for name, clinics in sorted(by_indication.items())]


def claim_steps_rows(data: dict[str, Any], *, since: datetime | None = None,
                     until: datetime | None = None) -> list[dict[str, Any]]:
    """Flat rows, one per step, for CSV export: clinic, indication, date, strength, snapshot, page."""
    rows = []
    for timeline in data["timelines"]:
        for step in timeline["steps"]:
            at = datetime.fromisoformat(step["at"])
            if (since is not None and at < since) or (until is not None and at > until):
                continue
            rows.append({"clinic": timeline["clinic"], "indication": timeline["indication"], **step,
                         "claimed": step["strength"] > 0})
    return rows
