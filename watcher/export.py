"""Exports for journalists and archivists: alerts, claim timelines and snapshot metadata as CSV or
JSON, and the raw captures as WARC 1.1 (``watcher.warc``). The rows come from the same query
functions as the CLI listings and the API, so an export says what the screens say.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from watcher.errors import InputError
from watcher.models import Clinic, Snapshot, Source
from watcher.queries.alerts import find_alerts
from watcher.queries.claims import claim_steps_rows, claim_timelines
from watcher.queries.dates import check_range
from watcher.queries.timeline import preferred_versions, snapshot_meta
from watcher.warc import write_warc

FORMATS = ("csv", "json", "warc")
WHATS = ("alerts", "claims", "snapshots")
_BATCH = 200


@dataclass(frozen=True, kw_only=True)
class ExportFilter:
    clinic_id: int | None = None
    source_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _snapshot_query(filters: ExportFilter) -> Select[int]:
    check_range(filters.since, filters.until)
    query = select(Snapshot.id).join(Source, Snapshot.source_id == Source.id)
    if filters.clinic_id is not None:
        query = query.where(Source.clinic_id == filters.clinic_id)
    if filters.source_id is not None:
        query = query.where(Snapshot.source_id == filters.source_id)
    if filters.since is not None:
        query = query.where(Snapshot.fetched_at >= filters.since)
    if filters.until is not None:
        query = query.where(Snapshot.fetched_at <= filters.until)
    return query.order_by(Snapshot.fetched_at, Snapshot.id)


def snapshot_batches(session: Session, filters: ExportFilter, *, with_raw: bool) -> Iterator[list[Snapshot]]:
    """The chosen snapshots in capture order, in batches (raw bytes only when asked)."""
    ids = list(session.scalars(_snapshot_query(filters)))
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        query = select(Snapshot).where(Snapshot.id.in_(chunk)).order_by(Snapshot.fetched_at, Snapshot.id)
        if not with_raw:
            query = query.options(defer(Snapshot.raw))
        yield list(session.scalars(query))


def iter_snapshots_with_raw(session: Session, filters: ExportFilter) -> Iterator[Snapshot]:
    for batch in snapshot_batches(session, filters, with_raw=True):
        yield from batch
        for snapshot in batch:
            session.expunge(snapshot)  # hold the raw bytes of one batch at a time


def snapshot_rows(session: Session, filters: ExportFilter) -> list[dict[str, Any]]:
    sources = {sid: (url, clinic) for sid, url, clinic in session.execute(
        select(Source.id, Source.url, Clinic.name).outerjoin(Clinic, Source.clinic_id == Clinic.id))}
    rows = []
    for batch in snapshot_batches(session, filters, with_raw=False):
        versions = preferred_versions(session, [s.id for s in batch])
        for snapshot in batch:
            url, clinic = sources[snapshot.source_id]
            row: dict[str, Any] = {"snapshot_id": snapshot.id, "source_id": snapshot.source_id,
                                   "source_url": url, "clinic": clinic}
            meta = snapshot_meta(snapshot, versions.get(snapshot.id))
            meta.pop("id")
            row.update(meta)
            rows.append(row)
    return rows


def alert_rows(session: Session, filters: ExportFilter) -> list[dict[str, Any]]:
    return find_alerts(session, source_id=filters.source_id, clinic_id=filters.clinic_id,
                       since=filters.since, until=filters.until)


def claims_data(session: Session, filters: ExportFilter) -> dict[str, Any]:
    check_range(filters.since, filters.until)
    data = claim_timelines(session, clinic_id=filters.clinic_id)
    if filters.source_id is not None:
        for timeline in data["timelines"]:
            timeline["steps"] = [s for s in timeline["steps"] if s["source_id"] == filters.source_id]
        data["timelines"] = [t for t in data["timelines"] if t["steps"]]
    if filters.since is not None or filters.until is not None:
        for timeline in data["timelines"]:
            timeline["steps"] = [s for s in timeline["steps"]
                                 if (filters.since is None or datetime.fromisoformat(s["at"]) >= filters.since)
                                 and (filters.until is None or datetime.fromisoformat(s["at"]) <= filters.until)]
    return data


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def export_table(session: Session, *, what: str, fmt: str, filters: ExportFilter) -> str:
    """CSV or JSON text of alerts, claim timelines or snapshot metadata."""
    if what not in WHATS:
        raise InputError(f"unknown export {what!r}: use one of {', '.join(WHATS)}")
    if fmt not in ("csv", "json"):
        raise InputError(f"format {fmt!r} is not a table format: use csv or json")
    if what == "claims":
        data = claims_data(session, filters)
        if fmt == "json":
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return to_csv(claim_steps_rows(data))
    rows = alert_rows(session, filters) if what == "alerts" else snapshot_rows(session, filters)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    return to_csv(rows)


def export_warc(session: Session, out: BinaryIO, *, filters: ExportFilter, gzip: bool,
                filename: str | None = None) -> int:
    return write_warc(out, iter_snapshots_with_raw(session, filters), gzip=gzip, filename=filename)
