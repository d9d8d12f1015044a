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

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session, selectinload

from watcher.errors import InputError, NotFoundError
from watcher.models import Body, Clinic, Requisite, Snapshot, SnapshotRequisite, Source, utcnow
from watcher.queries.alerts import find_alerts
from watcher.queries.claims import claim_steps_rows, claim_timelines
from watcher.queries.clinics import resolve_clinic
from watcher.queries.dates import check_range, parse_when
from watcher.queries.timeline import preferred_versions, snapshot_meta
from watcher.sources import resolve_source
from watcher.warc import write_warc

FORMATS = ("csv", "json", "warc")
WHATS = ("alerts", "claims", "snapshots")
_BATCH = 200
# Excel opens a CSV as UTF-8 (Japanese intact) only when it starts with a byte-order mark.
EXCEL_BOM = "\ufeff"

# The CSV columns, so that an empty export still has its header row (tests check them against rows).
ALERT_COLUMNS = (
    "id",
    "kind",
    "severity",
    "indication",
    "reference",
    "strength_before",
    "strength_after",
    "before",
    "after",
    "source_id",
    "source_url",
    "clinic",
    "detected_at",
    "old_snapshot_id",
    "new_snapshot_id",
    "old_fetched_at",
    "new_fetched_at",
    "occurrences",
    "last_snapshot_id",
    "scope",
    "archived",
    "acknowledged_at",
    "acknowledged_by",
)
SNAPSHOT_COLUMNS = (
    "snapshot_id",
    "source_id",
    "source_url",
    "clinic",
    "fetched_at",
    "sha256",
    "size",
    "http_status",
    "final_url",
    "content_type",
    "encoding",
    "text_version_id",
    "title",
    "language",
    "text_sha256",
    "extractor_version",
    "archive_url",
)
CLAIM_COLUMNS = (
    "clinic",
    "indication",
    "at",
    "strength",
    "snapshot_id",
    "source_id",
    "source_url",
    "previous_snapshot_id",
    "previous_fetched_at",
    "claimed",
)


@dataclass(frozen=True, kw_only=True)
class ExportFilter:
    clinic_id: int | None = None
    source_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None  # alerts only
    indication: str | None = None  # alerts and claims


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
    """The chosen snapshots in capture order, in batches (their bodies loaded with them when asked)."""
    ids = list(session.scalars(_snapshot_query(filters)))
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        query = select(Snapshot).where(Snapshot.id.in_(chunk)).order_by(Snapshot.fetched_at, Snapshot.id)
        if with_raw:
            query = query.options(selectinload(Snapshot.body).selectinload(Body.base_body))
        yield list(session.scalars(query))


def iter_snapshots_with_raw(session: Session, filters: ExportFilter) -> Iterator[Snapshot]:
    for batch in snapshot_batches(session, filters, with_raw=True):
        yield from batch
        bodies = {snapshot.body for snapshot in batch}
        for item in {*batch, *bodies, *(body.base_body for body in bodies if body.base_body is not None)}:
            session.expunge(item)  # hold the raw bytes of one batch at a time


def snapshot_rows(session: Session, filters: ExportFilter) -> list[dict[str, Any]]:
    sources = {
        sid: (url, clinic)
        for sid, url, clinic in session.execute(
            select(Source.id, Source.url, Clinic.name).outerjoin(Clinic, Source.clinic_id == Clinic.id)
        )
    }
    rows = []
    for batch in snapshot_batches(session, filters, with_raw=False):
        versions = preferred_versions(session, [s.id for s in batch])
        for snapshot in batch:
            url, clinic = sources[snapshot.source_id]
            row: dict[str, Any] = {
                "snapshot_id": snapshot.id,
                "source_id": snapshot.source_id,
                "source_url": url,
                "clinic": clinic,
            }
            meta = snapshot_meta(snapshot, versions.get(snapshot.id))
            meta.pop("id")
            row.update(meta)
            rows.append(row)
    return rows


def alert_rows(session: Session, filters: ExportFilter) -> list[dict[str, Any]]:
    return find_alerts(
        session,
        source_id=filters.source_id,
        clinic_id=filters.clinic_id,
        kind=filters.kind,
        indication=filters.indication,
        since=filters.since,
        until=filters.until,
    )


def claims_data(session: Session, filters: ExportFilter) -> dict[str, Any]:
    check_range(filters.since, filters.until)
    data = claim_timelines(session, clinic_id=filters.clinic_id, indication=filters.indication)
    if filters.source_id is not None:
        for timeline in data["timelines"]:
            timeline["steps"] = [s for s in timeline["steps"] if s["source_id"] == filters.source_id]
        data["timelines"] = [t for t in data["timelines"] if t["steps"]]
    if filters.since is not None or filters.until is not None:
        for timeline in data["timelines"]:
            timeline["steps"] = [
                s
                for s in timeline["steps"]
                if (filters.since is None or datetime.fromisoformat(s["at"]) >= filters.since)
                and (filters.until is None or datetime.fromisoformat(s["at"]) <= filters.until)
            ]
    return data


def to_csv(rows: list[dict[str, Any]], *, columns: tuple[str, ...] = (), excel: bool = False) -> str:
    """CSV with a header row (``columns`` first, then any other key), even when there is no row.
    ``excel``: a byte-order mark and CRLF line ends, which Excel needs to read UTF-8 Japanese."""
    buffer = io.StringIO()
    names = list(columns)
    for row in rows:
        names.extend(key for key in row if key not in names)
    writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore", lineterminator="\r\n" if excel else "\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return (EXCEL_BOM if excel else "") + buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def export_table(session: Session, *, what: str, fmt: str, filters: ExportFilter, excel: bool = False) -> str:
    """CSV or JSON text of alerts, claim timelines or snapshot metadata (``excel``: see ``to_csv``)."""
    if what not in WHATS:
        raise InputError(f"unknown export {what!r}: use one of {', '.join(WHATS)}")
    if fmt not in ("csv", "json"):
        raise InputError(f"format {fmt!r} is not a table format: use csv or json")
    if filters.kind and what != "alerts":
        raise InputError(f"the kind filter is for alerts: what={what} cannot take it")
    if what == "claims":
        data = claims_data(session, filters)
        if fmt == "json":
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return to_csv(claim_steps_rows(data), columns=CLAIM_COLUMNS, excel=excel)
    rows = alert_rows(session, filters) if what == "alerts" else snapshot_rows(session, filters)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    return to_csv(rows, columns=ALERT_COLUMNS if what == "alerts" else SNAPSHOT_COLUMNS, excel=excel)


def export_warc(
    session: Session, out: BinaryIO, *, filters: ExportFilter, gzip: bool, filename: str | None = None
) -> int:
    named = select(Source.id, Clinic.name).join(Clinic, Source.clinic_id == Clinic.id)
    clinics: dict[int, str] = dict(session.execute(named).all())
    return write_warc(
        out,
        iter_snapshots_with_raw(session, filters),
        gzip=gzip,
        filename=filename,
        clinics=clinics,
        requisites=lambda snapshot: snapshot_requisites(session, snapshot.id),
    )


def snapshot_requisites(session: Session, snapshot_id: int) -> Iterator[tuple[Requisite, datetime]]:
    """The page requisites kept with a snapshot (``--requisites``), with the time each was fetched for
    it, in fetch order; their bytes are released once the caller has moved on."""
    rows = session.execute(
        select(Requisite, SnapshotRequisite.fetched_at)
        .join(SnapshotRequisite, SnapshotRequisite.requisite_id == Requisite.id)
        .where(SnapshotRequisite.snapshot_id == snapshot_id)
        .order_by(SnapshotRequisite.fetched_at, Requisite.id)
    ).all()
    for requisite, fetched_at in rows:
        yield requisite, fetched_at
        loaded_body = None if "body" in inspect(requisite).unloaded else requisite.body
        for item in (requisite, loaded_body):
            if item is not None and item in session:  # two requisites may share one body
                session.expunge(item)


@dataclass(frozen=True)
class Download:
    body: bytes
    media_type: str
    filename: str


_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "warc": "application/warc"}


def export_filter(
    session: Session,
    *,
    clinic: str | None = None,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
    indication: str | None = None,
) -> ExportFilter:
    """The filters of ``watcher export`` from their text (a clinic name or id, a source URL or id,
    dates): what the dashboard's and the API's export links carry."""
    clinic_id = None
    if clinic and clinic.strip().isdigit():  # the dashboard's links carry ids
        if session.get(Clinic, int(clinic)) is None:
            raise NotFoundError(f"no clinic with id {clinic.strip()}")
        clinic_id = int(clinic)
    elif clinic:
        clinic_id = resolve_clinic(session, clinic).id
    return ExportFilter(
        clinic_id=clinic_id,
        source_id=resolve_source(session, source).id if source else None,
        since=parse_when(since or None),
        until=parse_when(until or None, end_of_day=True),
        kind=kind or None,
        indication=indication or None,
    )


def export_download(session: Session, *, what: str, fmt: str, filters: ExportFilter, excel: bool) -> Download:
    """An export as a file to download (the dashboard's and the API's ``export``), named after what it
    holds and when it was made."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    stamp = utcnow().strftime("%Y%m%dT%H%MZ")
    if fmt == "warc":
        if what not in ("snapshots", ""):
            raise InputError(f"a WARC holds captures: what={what} needs format csv or json")
        filename = f"watcher-captures-{stamp}.warc.gz"
        buffer = io.BytesIO()
        export_warc(session, buffer, filters=filters, gzip=True, filename=filename)
        return Download(buffer.getvalue(), _MEDIA["warc"], filename)
    text = export_table(session, what=what or "alerts", fmt=fmt, filters=filters, excel=excel and fmt == "csv")
    return Download(text.encode("utf-8"), _MEDIA[fmt], f"watcher-{what or 'alerts'}-{stamp}.{fmt}")
