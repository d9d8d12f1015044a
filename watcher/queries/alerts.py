"""Alert listings with every filter the CLI, API and dashboard offer, one alert, and acknowledging one.

Listings are ordered by the date of the capture that showed the finding (``new_fetched_at``),
oldest first like ``watcher alerts`` unless ``newest_first``; ``ix_alerts_new_fetched`` serves the
order. ``acknowledge_alert`` is the one write here: triage state, kept on the alert itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from watcher.errors import InputError, NotFoundError
from watcher.models import Alert, Source, utcnow
from watcher.queries.choices import checked_filters
from watcher.queries.dates import check_range
from watcher.queries.paging import check_page, page

MAX_ACKNOWLEDGER = 200


def alert_fields(alert: Alert) -> dict[str, Any]:
    """What an alert found: kind, severity, subject, strengths, the texts before and after."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "indication": alert.indication,
        "reference": alert.reference,
        "strength_before": alert.strength_before,
        "strength_after": alert.strength_after,
        "before": alert.before,
        "after": alert.after,
    }


def alert_dict(alert: Alert, source: Source) -> dict[str, Any]:
    return {
        **alert_fields(alert),
        "source_id": source.id,
        "source_url": source.url,
        "clinic": source.clinic.name if source.clinic else None,
        "detected_at": alert.detected_at.isoformat(),
        "old_snapshot_id": alert.old_snapshot_id,
        "new_snapshot_id": alert.new_snapshot_id,
        "old_fetched_at": alert.old_fetched_at.isoformat() if alert.old_fetched_at else None,
        "new_fetched_at": alert.new_fetched_at.isoformat(),
        "occurrences": alert.occurrences,
        "last_snapshot_id": alert.last_snapshot_id,
        "scope": (alert.details or {}).get("scope") or "page",
        "archived": alert.from_archive,
    }


def full_alert_dict(alert: Alert, source: Source) -> dict[str, Any]:
    data = alert_dict(alert, source)
    data.update(
        {
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
            "acknowledged_by": alert.acknowledged_by,
        }
    )
    return data


def alerts_query(
    *,
    source_id: int | None = None,
    clinic_id: int | None = None,
    kind: str | None = None,
    indication: str | None = None,
    severity: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    acknowledged: bool | None = None,
    newest_first: bool = False,
) -> Select[Alert, Source]:
    """The one alert filter: the CLI, the API, exports, the dashboard and the triage view use it."""
    check_range(since, until)
    kind, indication = checked_filters(kind, indication)
    query = select(Alert, Source).join(Source, Alert.source_id == Source.id).options(joinedload(Source.clinic))
    if source_id is not None:
        query = query.where(Alert.source_id == source_id)
    if clinic_id is not None:
        query = query.where(Alert.clinic_id == clinic_id)
    if kind:
        query = query.where(Alert.kind == kind)
    if indication:
        query = query.where(Alert.indication == indication)
    if severity:
        query = query.where(Alert.severity == severity)
    if since is not None:
        query = query.where(Alert.new_fetched_at >= since)
    if until is not None:
        query = query.where(Alert.new_fetched_at <= until)
    if acknowledged is not None:
        query = query.where(Alert.acknowledged_at.is_not(None) if acknowledged else Alert.acknowledged_at.is_(None))
    if newest_first:
        return query.order_by(Alert.new_fetched_at.desc(), Alert.id.desc())
    return query.order_by(Alert.new_fetched_at, Alert.id)


def find_alerts(
    session: Session,
    *,
    source_id: int | None = None,
    clinic_id: int | None = None,
    kind: str | None = None,
    indication: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    acknowledged: bool | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = alerts_query(
        source_id=source_id,
        clinic_id=clinic_id,
        kind=kind,
        indication=indication,
        since=since,
        until=until,
        acknowledged=acknowledged,
        newest_first=newest_first,
    )
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [full_alert_dict(alert, source) for alert, source in session.execute(query).all()]


def alerts_page(session: Session, *, limit: int = 50, offset: int = 0, **filters: Any) -> dict[str, Any]:
    check_page(limit, offset)
    rows = find_alerts(session, limit=limit + 1, offset=offset, **filters)
    return page(rows, limit=limit, offset=offset)


def get_alert(session: Session, alert_id: int) -> dict[str, Any]:
    row = session.execute(
        select(Alert, Source).join(Source, Alert.source_id == Source.id).where(Alert.id == alert_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no alert {alert_id}")
    alert, source = row
    data = full_alert_dict(alert, source)
    data["details"] = alert.details
    return data


def acknowledge_alert(
    session: Session, alert_id: int, *, by: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """Mark an alert as seen. Idempotent: acknowledging it again keeps the first acknowledgement."""
    who = (by or "").strip() or None
    if who is not None and (len(who) > MAX_ACKNOWLEDGER or any(ord(ch) < 32 for ch in who)):
        raise InputError(f"'by' must be at most {MAX_ACKNOWLEDGER} printable characters")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = at or utcnow()
        alert.acknowledged_by = who
        session.flush()
    return get_alert(session, alert_id)
