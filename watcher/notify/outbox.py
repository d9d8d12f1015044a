"""The outbox: alerts become deliveries (rows) first, and are mailed from there.

Enqueueing
    ``enqueue`` gives every active *immediate* subscription one delivery per matching alert;
    ``enqueue_digests`` puts every matching alert of a *daily* subscription into its open digest (one
    per subscription, due at ``WATCHER_DIGEST_HOUR`` UTC), creating it when there is none. A
    ``DeliveryItem`` (subscription, alert) is unique in the database, so no alert is ever enqueued
    twice for a subscriber, even by two processes at once. Only alerts detected after a subscription
    was created match it.

Sending (``send_due``), per due delivery, in three transactions:
    1. claim: ``pending`` (or an expired ``sending``) → ``sending``, ``attempts + 1``, the Message-ID
       stored, and ``next_attempt_at`` = now + the claim lease; a conditional UPDATE on
       (status, attempts), so two senders never claim the same delivery;
    2. SMTP, outside any transaction;
    3. record: ``sent``; or on failure ``pending`` again with exponential backoff
       (``WATCHER_SMTP_RETRY_BACKOFF`` × 2^(attempts-1), at most 6 h), or ``failed`` after
       ``WATCHER_SMTP_MAX_ATTEMPTS`` attempts or a permanent (5xx) refusal.

Crash rule (at-least-once, idempotent Message-ID). If the process dies between 2 and 3 the delivery
stays ``sending``; once its lease expires (4 × ``WATCHER_SMTP_TIMEOUT``, at least 60 s) it is sent
again with the *same* Message-ID, so the receiving side can drop the duplicate. A delivery is never
lost: the worst case is one duplicate with an identical Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, Delivery, DeliveryItem, Source, Subscription, utcnow
from watcher.notify.render import alert_views, build_message, message_id
from watcher.notify.smtp import SmtpError, SmtpSender
from watcher.subscriptions import matching_alert_filter

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
OPEN_STATUSES = ("pending", "sending")


def email_enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def claim_lease(settings: Settings) -> timedelta:
    """How long a claimed (``sending``) delivery belongs to its sender before it counts as crashed."""
    return timedelta(seconds=max(60.0, 4 * settings.smtp_timeout))


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.smtp_retry_backoff * (2 ** max(0, attempts - 1))
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def next_digest_time(now: datetime, hour: int) -> datetime:
    """The next ``hour``:00 UTC strictly after ``now``."""
    due = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def _matching_alert_ids(session: Session, subscription: Subscription) -> list[int]:
    return list(
        session.scalars(
            select(Alert.id)
            .join(Source, Alert.source_id == Source.id)
            .where(matching_alert_filter(subscription))
            .order_by(Alert.detected_at, Alert.id)
        )
    )


def _subscription_ids(store: Store, mode: str) -> list[int]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Subscription.id)
                .where(Subscription.active.is_(True), Subscription.mode == mode)
                .order_by(Subscription.id)
            )
        )


def _retrying_conflicts(store: Store, work: Any, subscription_id: int) -> int:
    """Run ``work(session, subscription)`` in one transaction; a unique-constraint conflict means another
    process enqueued the same alerts meanwhile, so roll back and look again (it then finds less)."""
    for _attempt in range(3):
        try:
            with store.session() as session:
                subscription = session.get(Subscription, subscription_id)
                if subscription is None or not subscription.active:
                    return 0
                return int(work(session, subscription))
        except IntegrityError:
            log.info("outbox: concurrent enqueue for subscription %s, retrying", subscription_id)
    return 0


def enqueue(store: Store, settings: Settings, *, now: datetime | None = None) -> int:
    """One delivery per new matching alert for every immediate subscription; returns how many."""
    if not email_enabled(settings):
        return 0
    when = now or utcnow()

    def work(session: Session, subscription: Subscription) -> int:
        alert_ids = _matching_alert_ids(session, subscription)
        for alert_id in alert_ids:
            delivery = Delivery(
                subscription_id=subscription.id,
                kind="immediate",
                dedupe_key=f"alert:{subscription.id}:{alert_id}",
                status="pending",
                attempts=0,
                next_attempt_at=when,
                created_at=when,
            )
            session.add(delivery)
            session.flush()
            session.add(DeliveryItem(delivery_id=delivery.id, subscription_id=subscription.id, alert_id=alert_id))
        session.flush()
        return len(alert_ids)

    return sum(_retrying_conflicts(store, work, sid) for sid in _subscription_ids(store, "immediate"))


def enqueue_digests(store: Store, settings: Settings, now: datetime | None = None) -> int:
    """Put every new matching alert of each daily subscription into its open digest (created when
    needed, due at the next ``WATCHER_DIGEST_HOUR``); returns how many alerts were added."""
    if not email_enabled(settings):
        return 0
    when = now or utcnow()

    def work(session: Session, subscription: Subscription) -> int:
        alert_ids = _matching_alert_ids(session, subscription)
        if not alert_ids:
            return 0
        digest = session.scalar(
            select(Delivery)
            .where(
                Delivery.subscription_id == subscription.id,
                Delivery.kind == "digest",
                Delivery.status == "pending",
                Delivery.attempts == 0,
            )
            .order_by(Delivery.id)
            .limit(1)
        )
        if digest is None:
            due = next_digest_time(when, settings.digest_hour)
            taken = set(
                session.scalars(
                    select(Delivery.dedupe_key).where(
                        Delivery.subscription_id == subscription.id, Delivery.kind == "digest"
                    )
                )
            )
            while f"digest:{subscription.id}:{due.date().isoformat()}" in taken:
                due += timedelta(days=1)
            digest = Delivery(
                subscription_id=subscription.id,
                kind="digest",
                dedupe_key=f"digest:{subscription.id}:{due.date().isoformat()}",
                status="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=when,
            )
            session.add(digest)
            session.flush()
        for alert_id in alert_ids:
            session.add(DeliveryItem(delivery_id=digest.id, subscription_id=subscription.id, alert_id=alert_id))
        session.flush()
        return len(alert_ids)

    return sum(_retrying_conflicts(store, work, sid) for sid in _subscription_ids(store, "daily"))


@dataclass
class SendReport:
    """What one ``send_due`` run did."""

    disabled: bool = False
    sent: int = 0
    retrying: int = 0  # the attempt failed; tried again later (status pending, next_attempt_at set)
    failed: int = 0  # given up: permanent refusal or WATCHER_SMTP_MAX_ATTEMPTS reached
    cancelled: int = 0  # the subscription was deactivated, or its alerts are gone
    message_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "disabled": self.disabled,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "message_ids": self.message_ids,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    attempts: int
    message_id: str


def _due(store: Store, now: datetime) -> list[tuple[int, str, int]]:
    with store.session() as session:
        return [
            (row.id, row.status, row.attempts)
            for row in session.execute(
                select(Delivery.id, Delivery.status, Delivery.attempts)
                .where(Delivery.status.in_(OPEN_STATUSES), Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
            )
        ]


def _claim(
    store: Store, settings: Settings, delivery_id: int, status: str, attempts: int, now: datetime
) -> _Claim | None:
    """Step 1, its own committed transaction: take the delivery, or learn that another sender has."""
    with store.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        mid = delivery.message_id or message_id(delivery, settings)
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == status, Delivery.attempts == attempts)
            .values(
                status="sending", attempts=attempts + 1, next_attempt_at=now + claim_lease(settings), message_id=mid
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
    return _Claim(delivery_id, attempts + 1, mid)


def _finish(store: Store, claim: _Claim, **values: Any) -> bool:
    """Step 3: record the outcome, unless another sender re-claimed the delivery meanwhile."""
    with store.session() as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == claim.delivery_id, Delivery.status == "sending", Delivery.attempts == claim.attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1


def _record_sent(store: Store, claim: _Claim, now: datetime) -> bool:
    return _finish(store, claim, status="sent", sent_at=now, last_error=None)


def send_due(store: Store, settings: Settings, now: datetime | None = None) -> SendReport:
    """Send every delivery that is due (and re-send expired claims); see the module docstring."""
    if not email_enabled(settings):
        return SendReport(disabled=True)
    when = now or utcnow()
    report = SendReport()
    envelope_from = parseaddr(settings.mail_from)[1]
    with SmtpSender(settings) as sender:
        for delivery_id, status, attempts in _due(store, when):
            claim = _claim(store, settings, delivery_id, status, attempts, when)
            if claim is None:
                continue
            if status == "sending":
                if attempts >= settings.smtp_max_attempts:
                    if _finish(
                        store,
                        claim,
                        status="failed",
                        last_error=f"left in 'sending' after {attempts} attempts; not sent again",
                    ):
                        report.failed += 1
                    continue
                log.warning(
                    "outbox: delivery %s was left in 'sending' (a crash?): sending it again as %s",
                    delivery_id,
                    claim.message_id,
                )
            with store.session() as session:
                delivery = session.get(Delivery, delivery_id)
                subscription = session.get(Subscription, delivery.subscription_id) if delivery else None
                alert_ids = list(
                    session.scalars(select(DeliveryItem.alert_id).where(DeliveryItem.delivery_id == delivery_id))
                )
                views = alert_views(session, alert_ids, settings)
                message = None
                if delivery is not None and subscription is not None and subscription.active and views:
                    message = build_message(session, delivery, subscription, views, settings, now=when)
                recipient = subscription.email if subscription else ""
            if message is None:
                if _finish(store, claim, status="cancelled", last_error="unsubscribed or no alerts left"):
                    report.cancelled += 1
                continue
            try:
                sender.send(message, sender=envelope_from, recipients=[recipient])
            except SmtpError as error:
                _record_failure(store, settings, claim, error, when, report)
                continue
            _record_sent(store, claim, when)
            report.sent += 1
            report.message_ids.append(claim.message_id)
    return report


def _record_failure(
    store: Store, settings: Settings, claim: _Claim, error: SmtpError, now: datetime, report: SendReport
) -> None:
    text = str(error)
    if error.transient and claim.attempts < settings.smtp_max_attempts:
        if _finish(
            store, claim, status="pending", last_error=text, next_attempt_at=now + retry_delay(settings, claim.attempts)
        ):
            report.retrying += 1
    else:
        reason = text if not error.transient else f"{text} (gave up after {claim.attempts} attempts)"
        if _finish(store, claim, status="failed", last_error=reason):
            report.failed += 1
    if text not in report.errors:
        report.errors.append(text)


def retry_failed(store: Store, *, now: datetime | None = None) -> int:
    """Give failed deliveries a fresh set of attempts (after fixing the SMTP settings, say)."""
    with store.session() as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def outbox_counts(store: Store) -> dict[str, int]:
    """Deliveries by status."""
    with store.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {str(status): int(count) for status, count in rows}


@dataclass
class NotifyReport:
    enqueued: int
    digested: int
    send: SendReport

    def to_dict(self) -> dict[str, Any]:
        return {"enqueued": self.enqueued, "digested": self.digested, **self.send.to_dict()}


def notify(store: Store, settings: Settings, *, now: datetime | None = None) -> NotifyReport:
    """Enqueue, collect digests, send what is due: what ``watcher notify`` (and the scheduler) run."""
    if not email_enabled(settings):
        return NotifyReport(0, 0, SendReport(disabled=True))
    when = now or utcnow()
    enqueued = enqueue(store, settings, now=when)
    digested = enqueue_digests(store, settings, now=when)
    return NotifyReport(enqueued, digested, send_due(store, settings, now=when))
