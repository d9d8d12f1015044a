"""Alert triage: researchers acknowledge alerts, mark false positives, add notes and reopen them.

Every action is a row of ``alert_triage`` (append-only: who, what, when, an optional note), so the
team sees the whole history of an alert. An alert's *state* is its latest state-changing action:
``acknowledge`` → acknowledged, ``false_positive`` → false positive, ``reopen`` → open; a ``note``
adds a comment and leaves the state as it was.

The alert's own ``acknowledged_at``/``acknowledged_by`` (what the JSON API's acknowledge sets and its
``acknowledged`` filter reads) are kept in step: set by the first acknowledge or false positive,
cleared by a reopen. So "open" means the same thing in the dashboard, the API and the feeds, and an
alert acknowledged through the API shows as acknowledged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from watcher.errors import InputError, NotFoundError
from watcher.models import Alert, AlertTriage, Source, utcnow
from watcher.queries.alerts import alerts_query, full_alert_dict
from watcher.queries.evidence import before_origin
from watcher.queries.paging import check_page, page

ACKNOWLEDGE, FALSE_POSITIVE, NOTE, REOPEN = "acknowledge", "false_positive", "note", "reopen"
ACTIONS = (ACKNOWLEDGE, FALSE_POSITIVE, NOTE, REOPEN)
STATE_ACTIONS = (ACKNOWLEDGE, FALSE_POSITIVE, REOPEN)
OPEN, ACKNOWLEDGED = "open", "acknowledged"
STATES = (OPEN, ACKNOWLEDGED, FALSE_POSITIVE)
MAX_AUTHOR = 200
MAX_NOTE = 4000


@dataclass(frozen=True)
class TriageState:
    state: str  # open | acknowledged | false_positive
    by: str | None
    at: datetime | None
    actions: int  # how many triage actions (notes included) the alert has

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "by": self.by,
            "at": self.at.isoformat() if self.at else None,
            "actions": self.actions,
        }


def _printable(value: str, *, name: str, limit: int, multiline: bool = False) -> str:
    allowed = "\n\r\t" if multiline else ""
    if len(value) > limit or any(ord(ch) < 32 and ch not in allowed for ch in value):
        raise InputError(f"{name} must be at most {limit} printable characters")
    return value


def record_triage(
    session: Session, alert_id: int, *, action: str, author: str, note: str | None = None, at: datetime | None = None
) -> AlertTriage:
    """Record one action on an alert and keep the alert's acknowledgement columns in step."""
    if action not in ACTIONS:
        raise InputError(f"unknown triage action {action!r}: use one of {', '.join(ACTIONS)}")
    who = _printable(author.strip(), name="the author", limit=MAX_AUTHOR)
    if not who:
        raise InputError("a triage action needs an author")
    text = _printable((note or "").strip(), name="the note", limit=MAX_NOTE, multiline=True) or None
    if action == NOTE and text is None:
        raise InputError("a note needs some text")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    when = at or utcnow()
    row = AlertTriage(alert_id=alert.id, action=action, author=who, note=text, created_at=when)
    session.add(row)
    if action in (ACKNOWLEDGE, FALSE_POSITIVE) and alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = when, who
    elif action == REOPEN:
        alert.acknowledged_at, alert.acknowledged_by = None, None
    session.flush()
    return row


def triage_history(session: Session, alert_id: int) -> list[dict[str, Any]]:
    """An alert's triage actions, oldest first."""
    rows = session.scalars(select(AlertTriage).where(AlertTriage.alert_id == alert_id).order_by(AlertTriage.id))
    return [
        {"id": r.id, "action": r.action, "author": r.author, "note": r.note, "created_at": r.created_at.isoformat()}
        for r in rows
    ]


def triage_states(session: Session, alerts: list[Alert]) -> dict[int, TriageState]:
    """The current state of each alert (see the module docstring)."""
    ids = [a.id for a in alerts]
    latest: dict[int, AlertTriage] = {}
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.scalars(select(AlertTriage).where(AlertTriage.alert_id.in_(chunk)).order_by(AlertTriage.id)):
            counts[row.alert_id] = counts.get(row.alert_id, 0) + 1
            if row.action in STATE_ACTIONS:
                latest[row.alert_id] = row
    states: dict[int, TriageState] = {}
    for alert in alerts:
        last = latest.get(alert.id)
        actions = counts.get(alert.id, 0)
        if alert.acknowledged_at is None:
            states[alert.id] = TriageState(
                OPEN, last.author if last else None, last.created_at if last else None, actions
            )
        elif last is not None and last.action == FALSE_POSITIVE:
            states[alert.id] = TriageState(FALSE_POSITIVE, last.author, last.created_at, actions)
        elif last is not None and last.action == ACKNOWLEDGE:
            states[alert.id] = TriageState(ACKNOWLEDGED, last.author, last.created_at, actions)
        else:  # acknowledged through the JSON API
            states[alert.id] = TriageState(ACKNOWLEDGED, alert.acknowledged_by, alert.acknowledged_at, actions)
    return states


def _latest_state_action() -> Any:
    return (
        select(AlertTriage.action)
        .where(AlertTriage.alert_id == Alert.id, AlertTriage.action.in_(STATE_ACTIONS))
        .order_by(AlertTriage.id.desc())
        .limit(1)
        .correlate(Alert)
        .scalar_subquery()
    )


def _alerts_query(
    *,
    clinic_id: int | None,
    source_id: int | None,
    kind: str | None,
    indication: str | None,
    severity: str | None,
    state: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Alert, Source]:
    """``alerts_query`` (newest first) narrowed to a triage state."""
    if state is not None and state not in STATES:
        raise InputError(f"unknown triage state {state!r}: use one of {', '.join(STATES)}")
    query = alerts_query(
        clinic_id=clinic_id,
        source_id=source_id,
        kind=kind,
        indication=indication,
        severity=severity,
        since=since,
        until=until,
        acknowledged=False if state == OPEN else None,
        newest_first=True,
    )
    if state == FALSE_POSITIVE:
        query = query.where(Alert.acknowledged_at.is_not(None), _latest_state_action() == FALSE_POSITIVE)
    elif state == ACKNOWLEDGED:
        latest = _latest_state_action()
        query = query.where(Alert.acknowledged_at.is_not(None), (latest.is_(None)) | (latest != FALSE_POSITIVE))
    return query


def triaged_alerts_page(
    session: Session,
    *,
    limit: int = 50,
    offset: int = 0,
    clinic_id: int | None = None,
    source_id: int | None = None,
    kind: str | None = None,
    indication: str | None = None,
    severity: str | None = None,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Alerts newest first (by capture date) with every filter of the dashboard, each with ``triage``
    (its state) — the same alert dicts as the JSON API."""
    check_page(limit, offset)
    query = _alerts_query(
        clinic_id=clinic_id,
        source_id=source_id,
        kind=kind,
        indication=indication,
        severity=severity,
        state=state,
        since=since,
        until=until,
    )
    rows = session.execute(query.offset(offset).limit(limit + 1)).all()
    states = triage_states(session, [alert for alert, _source in rows])
    items = []
    for alert, source in rows:
        data = full_alert_dict(alert, source)
        data["triage"] = states[alert.id].to_dict()
        data["before_origin"] = before_origin(session, alert)
        items.append(data)
    return page(items, limit=limit, offset=offset)


def alert_with_triage(session: Session, alert_id: int) -> dict[str, Any]:
    """One alert with its details, triage state and triage history."""
    row = session.execute(
        select(Alert, Source)
        .join(Source, Alert.source_id == Source.id)
        .options(joinedload(Source.clinic))
        .where(Alert.id == alert_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no alert {alert_id}")
    alert, source = row
    data = full_alert_dict(alert, source)
    data["details"] = alert.details
    data["before_origin"] = before_origin(session, alert)
    data["triage"] = triage_states(session, [alert])[alert.id].to_dict()
    data["triage_history"] = triage_history(session, alert.id)
    return data
