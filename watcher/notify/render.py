"""Alert e-mails: multipart text + HTML from the Jinja2 templates in ``templates/``.

Alert sentences come from scraped pages, so the HTML templates are autoescaped (a ``<script>`` in a
clinic's page arrives as text). The change inside a before/after pair is highlighted with
diff-match-patch (``watcher.changes.diff_chars``): ``<del>``/``<ins>`` in HTML, ``[-…-]``/``{+…+}`` in
text. The Message-ID is derived from the delivery alone, so a re-send after a crash carries the same
one and the receiving side can discard the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from watcher.changes import DELETE, EQUAL, INSERT, diff_chars
from watcher.claims.vocabulary import indication_label
from watcher.config import Settings
from watcher.describe import STRENGTH_WORDS
from watcher.models import Alert, Clinic, Delivery, Screenshot, Snapshot, Source, Subscription
from watcher.queries.alerts import alert_dict
from watcher.queries.evidence import before_origin

NO_CLINIC = "(no clinic)"

_environment = Environment(
    loader=PackageLoader("watcher.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, kw_only=True)
class AlertView:
    """Everything a template shows about one alert."""

    id: int
    clinic: str
    source_id: int
    source_url: str
    kind: str
    severity: str
    indication: str | None
    indication_label: str | None  # its English and Japanese names
    reference: str | None
    strength: str | None  # "1 possible → 4 proven"
    description: str
    before: str | None
    after: str | None
    before_ops: list[tuple[int, str]]  # the old sentence: equal and deleted pieces
    after_ops: list[tuple[int, str]]  # the new sentence: equal and inserted pieces
    old_fetched_at: str | None
    new_fetched_at: str
    before_page: str | None  # the page the "before" sentence is quoted from, when not this one
    before_fetched_at: str | None  # when that sentence was captured
    detected_at: str
    old_snapshot_id: int | None
    new_snapshot_id: int
    old_sha256: str | None
    new_sha256: str | None
    occurrences: int
    source_link: str
    diff_link: str | None
    alert_link: str  # the dashboard's page of the alert, for people
    api_link: str  # the same alert as JSON
    # The screenshots of the old and new versions, when the source keeps them.
    old_screenshot_link: str | None = None
    new_screenshot_link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else None


def _level(value: int | None) -> str:
    # 0 (named but negated or excluded) and None (not named) read the same: not claimed.
    return f"{value} {STRENGTH_WORDS.get(value, '?')}" if value else "not claimed"


def _strength(before: int | None, after: int | None) -> str | None:
    if before is None and after is None:
        return None
    return f"{_level(before)} → {_level(after)}"


def describe_for_readers(data: dict[str, Any]) -> str:
    """The one-line description of an alert in mails and feeds: names, not machine ids
    ("[high] new indication: Parkinson's disease パーキンソン病 (not claimed → proven)")."""
    line = f"[{data['severity']}] {data['kind'].replace('_', ' ')}"
    if data.get("indication"):
        line += f": {indication_label(data['indication'])}"
        before, after = data.get("strength_before"), data.get("strength_after")
        if before is not None or after is not None:
            words = [STRENGTH_WORDS.get(v, "?") if v else "not claimed" for v in (before, after)]
            line += f" ({words[0]} → {words[1]})"
    elif data.get("reference"):
        line += f": {data['reference']}"
    return line


def highlight(
    before: str | None, after: str | None, *, timeout: float = 2.0
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The two sentences as diff pieces: (old side: equal/deleted, new side: equal/inserted), the
    changes widened to whole Latin words (``watcher.changes.diff_chars``)."""
    if not before or not after:
        return ([(EQUAL, before)] if before else []), ([(EQUAL, after)] if after else [])
    ops = diff_chars(before, after, timeout=timeout)
    return [(op, text) for op, text in ops if op != INSERT], [(op, text) for op, text in ops if op != DELETE]


def alert_views(session: Session, alert_ids: Iterable[int], settings: Settings) -> list[AlertView]:
    """Views of the given alerts, oldest detection first."""
    ids = list(alert_ids)
    if not ids:
        return []
    old_snap, new_snap = aliased(Snapshot), aliased(Snapshot)
    rows = session.execute(
        select(Alert, Source, Clinic.name, old_snap.sha256, new_snap.sha256)
        .join(Source, Alert.source_id == Source.id)
        .outerjoin(Clinic, Clinic.id == Source.clinic_id)
        .outerjoin(old_snap, old_snap.id == Alert.old_snapshot_id)
        .outerjoin(new_snap, new_snap.id == Alert.new_snapshot_id)
        .where(Alert.id.in_(ids))
        .order_by(Alert.detected_at, Alert.id)
    ).all()
    base = settings.public_url
    wanted = {alert.new_snapshot_id for alert, *_ in rows} | {a.old_snapshot_id for a, *_ in rows if a.old_snapshot_id}
    shot_ids = set(session.scalars(select(Screenshot.snapshot_id).where(Screenshot.snapshot_id.in_(wanted))))

    def shot_link(snapshot_id: int | None) -> str | None:
        return f"{base}/snapshots/{snapshot_id}/screenshot" if snapshot_id in shot_ids else None

    views = []
    for alert, source, clinic, old_sha, new_sha in rows:
        data = alert_dict(alert, source)
        before_ops, after_ops = highlight(alert.before, alert.after, timeout=settings.diff_timeout)
        origin = before_origin(session, alert)
        diff_link = (
            f"{base}/diff/{source.id}?from={alert.old_snapshot_id}&to={alert.new_snapshot_id}"
            if alert.old_snapshot_id
            else None
        )
        views.append(
            AlertView(
                id=alert.id,
                clinic=clinic or NO_CLINIC,
                source_id=source.id,
                source_url=source.url,
                kind=alert.kind,
                severity=alert.severity,
                indication=alert.indication,
                reference=alert.reference,
                indication_label=indication_label(alert.indication) if alert.indication else None,
                strength=_strength(alert.strength_before, alert.strength_after) if alert.indication else None,
                description=describe_for_readers(data),
                before=alert.before,
                after=alert.after,
                before_ops=before_ops,
                after_ops=after_ops,
                old_fetched_at=_when(alert.old_fetched_at),
                new_fetched_at=_when(alert.new_fetched_at) or "",
                before_page=origin["url"] if origin else None,
                before_fetched_at=(
                    _when(datetime.fromisoformat(origin["fetched_at"])) if origin else _when(alert.old_fetched_at)
                ),
                detected_at=_when(alert.detected_at) or "",
                old_snapshot_id=alert.old_snapshot_id,
                new_snapshot_id=alert.new_snapshot_id,
                old_sha256=old_sha,
                new_sha256=new_sha,
                occurrences=alert.occurrences,
                source_link=f"{base}/sources/{source.id}",
                diff_link=diff_link,
                alert_link=f"{base}/alerts/{alert.id}",
                api_link=f"{base}/api/alerts/{alert.id}",
                data=data,
                old_screenshot_link=shot_link(alert.old_snapshot_id),
                new_screenshot_link=shot_link(alert.new_snapshot_id),
            )
        )
    return views


def group_by_clinic(views: list[AlertView]) -> list[tuple[str, list[AlertView]]]:
    groups: dict[str, list[AlertView]] = {}
    for view in views:
        groups.setdefault(view.clinic, []).append(view)
    return sorted(groups.items(), key=lambda item: (item[0] == NO_CLINIC, item[0].casefold()))


def alert_html(view: AlertView) -> str:
    """One alert as an HTML fragment (escaped), as in the e-mails: for feed entries."""
    return _environment.get_template("entry.html").render(alert=view).strip()


def message_id(delivery: Delivery, settings: Settings) -> str:
    """Stable per delivery: the same on every (re-)send, different across deliveries and databases
    that happen to reuse ids (the dedupe key and creation time are hashed in)."""
    digest = hashlib.sha256(f"{delivery.dedupe_key}|{delivery.created_at.isoformat()}".encode()).hexdigest()[:16]
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "watcher"
    return f"<delivery-{delivery.id}.{digest}@{domain}>"


def unsubscribe_link(subscription: Subscription, settings: Settings) -> str:
    return f"{settings.public_url}/unsubscribe/{subscription.unsubscribe_token}"


def _filters(session: Session, subscription: Subscription) -> str:
    parts = []
    if subscription.clinic_ids:
        names = session.scalars(select(Clinic.name).where(Clinic.id.in_(subscription.clinic_ids))).all()
        parts.append("clinics " + ", ".join(sorted(names)))
    if subscription.source_ids:
        parts.append("sources " + ", ".join(f"#{i}" for i in subscription.source_ids))
    if subscription.kinds:
        parts.append("kinds " + ", ".join(subscription.kinds))
    if subscription.indications:
        parts.append("indications " + ", ".join(subscription.indications))
    if subscription.categories:
        parts.append("categories " + ", ".join(subscription.categories))
    if subscription.min_severity != "low":
        parts.append(f"severity {subscription.min_severity} and above")
    return "; ".join(parts) or "all alerts"


def subject_for(views: list[AlertView], *, digest: bool, day: str | None = None) -> str:
    if not digest and len(views) == 1:
        view = views[0]
        # ASCII arrows: Python's header folder can double a space before an encoded word after "→".
        return f"[watcher] {view.description.replace(' → ', ' -> ')} - {view.clinic}"
    clinics = len({v.clinic for v in views})
    high = sum(1 for v in views if v.severity == "high")
    when = f" {day}" if day else ""
    counts = f"{len(views)} alert{'s' if len(views) != 1 else ''} from {clinics} clinic{'s' if clinics != 1 else ''}"
    return f"[watcher] digest{when}: {counts}" + (f" ({high} high)" if high else "")


def build_message(
    session: Session,
    delivery: Delivery,
    subscription: Subscription,
    views: list[AlertView],
    settings: Settings,
    *,
    now: datetime,
) -> EmailMessage:
    """The complete message for one delivery (an immediate alert mail or a digest)."""
    digest = delivery.kind == "digest"
    day = delivery.dedupe_key.rsplit(":", 1)[1] if digest else None  # digest:SUBSCRIPTION:DATE, fixed
    context = {
        "alerts": views,
        "groups": group_by_clinic(views),
        "digest": digest,
        "day": day,
        "email": subscription.email,
        "mode": subscription.mode,
        "filters": _filters(session, subscription),
        "unsubscribe": unsubscribe_link(subscription, settings),
        "dashboard": settings.public_url + "/",
        "high": sum(1 for v in views if v.severity == "high"),
    }
    name = "digest" if digest else "alert"
    text = _environment.get_template(f"{name}.txt").render(context)
    html = _environment.get_template(f"{name}.html").render(context)
    message = EmailMessage()
    message["Subject"] = subject_for(views, digest=digest, day=day)
    message["From"] = settings.mail_from
    message["To"] = subscription.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = delivery.message_id or message_id(delivery, settings)
    message["List-Unsubscribe"] = f"<{unsubscribe_link(subscription, settings)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["List-Id"] = f"watcher alerts <alerts.{message['Message-ID'].rpartition('@')[2].rstrip('>')}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Watcher-Alerts"] = ", ".join(str(v.id) for v in views)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message
