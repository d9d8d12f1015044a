"""Subscriptions: who is told about which alerts, immediately or in a daily digest.

A subscription is an e-mail address, filters (clinics, sources, alert kinds, indications, guideline
categories of the medical-advertising rules, a minimum severity; an empty filter means "any") and a
mode. It only ever receives alerts *detected after it was created*: subscribing never floods anyone
with history. Nor is an alert whose new capture came from a web archive (``watcher backfill``) ever
mailed: it is history, not news. Unsubscribing deactivates the row (kept
for the outbox's records) and cancels its pending deliveries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from watcher.addresses import check_email
from watcher.claims.compare import SEVERITIES
from watcher.claims.regulation import check_category
from watcher.errors import InputError, NotFoundError
from watcher.models import Alert, Clinic, Delivery, DeliveryItem, Snapshot, Source, Subscription
from watcher.queries.choices import alert_kind, indication_id
from watcher.sources import resolve_source

MODES = ("immediate", "daily")
SEVERITY_ORDER = ("low", "medium", "high")
assert set(SEVERITY_ORDER) == set(SEVERITIES)


@dataclass(frozen=True, kw_only=True)
class SubscriptionSpec:
    email: str
    mode: str = "immediate"
    clinics: list[str] = field(default_factory=list)  # clinic names or ids
    sources: list[str] = field(default_factory=list)  # source URLs or ids
    kinds: list[str] = field(default_factory=list)
    indications: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # guideline category ids or names (体験談, testimonial)
    min_severity: str = "low"


def _resolve_clinic(session: Session, ref: str) -> Clinic:
    text = ref.strip()
    clinic = session.scalar(select(Clinic).where(Clinic.name == text))
    if clinic is None and text.isdigit():
        clinic = session.get(Clinic, int(text))
    if clinic is None:
        known = session.scalars(select(Clinic.name).order_by(Clinic.name).limit(6)).all()
        hint = (
            f" (known clinics: {', '.join(known)}{', …' if len(known) == 6 else ''})"
            if known
            else " (no clinics yet: add sources with --clinic NAME)"
        )
        raise NotFoundError(f"no clinic {ref!r}{hint}")
    return clinic


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InputError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")
    return value


def create_subscription(session: Session, spec: SubscriptionSpec) -> tuple[Subscription, bool]:
    """Validate and store a subscription; returns (subscription, created). Subscribing twice with the
    same address, mode and filters returns the existing active subscription instead of a duplicate."""
    email = check_email(spec.email)
    mode = _check_choice(spec.mode, MODES, "digest mode")
    min_severity = _check_choice(spec.min_severity, SEVERITY_ORDER, "severity")
    kinds = sorted({alert_kind(kind) for kind in spec.kinds})
    indications = sorted({indication_id(item) for item in spec.indications})
    categories = sorted({_category(item) for item in spec.categories})
    clinic_ids = sorted({_resolve_clinic(session, ref).id for ref in spec.clinics})
    source_ids = sorted({resolve_source(session, ref).id for ref in spec.sources})
    for existing in session.scalars(
        select(Subscription).where(Subscription.email == email, Subscription.active.is_(True))
    ):
        if (
            existing.mode,
            existing.min_severity,
            sorted(existing.kinds),
            sorted(existing.indications),
            sorted(existing.clinic_ids),
            sorted(existing.source_ids),
            sorted(existing.categories or []),
        ) == (mode, min_severity, kinds, indications, clinic_ids, source_ids, categories):
            return existing, False
    subscription = Subscription(
        email=email,
        mode=mode,
        clinic_ids=clinic_ids,
        source_ids=source_ids,
        kinds=kinds,
        indications=indications,
        categories=categories,
        min_severity=min_severity,
        unsubscribe_token=_new_token(),
        active=True,
    )
    session.add(subscription)
    session.flush()
    return subscription, True


def _category(value: str) -> str:
    try:
        return check_category(value)
    except ValueError as error:
        raise InputError(str(error)) from None


def list_subscriptions(session: Session, *, include_inactive: bool = False) -> list[Subscription]:
    query = select(Subscription).order_by(Subscription.id)
    if not include_inactive:
        query = query.where(Subscription.active.is_(True))
    return list(session.scalars(query))


def unsubscribe(
    session: Session, ref: str, *, subscription_id: int | None = None, token_only: bool = False
) -> list[Subscription]:
    """Deactivate the subscriptions of an address (or only ``subscription_id``), or the one with this
    unsubscribe token; their pending deliveries are cancelled. Returns what was deactivated.
    ``token_only`` (the web): an address is never accepted, only the secret token."""
    text = ref.strip()
    if "@" in text and not token_only:
        email = check_email(text, single_label_domain=True)
        query = select(Subscription).where(func.lower(Subscription.email) == email.lower())
    else:
        query = select(Subscription).where(Subscription.unsubscribe_token == text)
    if subscription_id is not None:
        query = query.where(Subscription.id == subscription_id)
    found = list(session.scalars(query.where(Subscription.active.is_(True)).order_by(Subscription.id)))
    if not found:
        what = (
            f"subscription {subscription_id} of {text!r}"
            if subscription_id is not None
            else (f"subscription for {text!r}" if "@" in text else "subscription with this token")
        )
        raise NotFoundError(f"no active {what} (see `watcher subscriptions`)")
    for subscription in found:
        subscription.active = False
    session.execute(
        update(Delivery)
        .where(Delivery.subscription_id.in_([s.id for s in found]), Delivery.status == "pending")
        .values(status="cancelled", last_error="unsubscribed")
    )
    session.flush()
    return found


def subscription_dict(session: Session, subscription: Subscription) -> dict[str, Any]:
    clinics = (
        session.scalars(select(Clinic.name).where(Clinic.id.in_(subscription.clinic_ids)).order_by(Clinic.name)).all()
        if subscription.clinic_ids
        else []
    )
    sources = (
        session.scalars(select(Source.url).where(Source.id.in_(subscription.source_ids)).order_by(Source.id)).all()
        if subscription.source_ids
        else []
    )
    return {
        "id": subscription.id,
        "email": subscription.email,
        "mode": subscription.mode,
        "clinics": list(clinics),
        "clinic_ids": list(subscription.clinic_ids),
        "sources": list(sources),
        "source_ids": list(subscription.source_ids),
        "kinds": list(subscription.kinds),
        "indications": list(subscription.indications),
        "categories": list(subscription.categories or []),
        "min_severity": subscription.min_severity,
        "active": subscription.active,
        "created_at": subscription.created_at.isoformat(),
        "unsubscribe_token": subscription.unsubscribe_token,
    }


def severities_at_least(minimum: str) -> tuple[str, ...]:
    return SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :] if minimum in SEVERITY_ORDER else SEVERITY_ORDER


def matching_alert_filter(subscription: Subscription) -> ColumnElement[bool]:
    """SQL condition: the alert (joined with its Source) is for this subscription and not enqueued for
    it yet. Alerts detected before the subscription was created never match, nor do backfilled ones."""
    conditions: list[ColumnElement[bool]] = [
        Alert.detected_at >= subscription.created_at,
        ~exists().where(Snapshot.id == Alert.new_snapshot_id, Snapshot.archive_url.is_not(None)),
        Alert.severity.in_(severities_at_least(subscription.min_severity)),
        ~exists().where(DeliveryItem.subscription_id == subscription.id, DeliveryItem.alert_id == Alert.id),
    ]
    if subscription.clinic_ids:
        conditions.append(
            or_(
                Alert.clinic_id.in_(subscription.clinic_ids),
                and_(Alert.clinic_id.is_(None), Source.clinic_id.in_(subscription.clinic_ids)),
            )
        )
    if subscription.source_ids:
        conditions.append(Alert.source_id.in_(subscription.source_ids))
    if subscription.kinds:
        conditions.append(Alert.kind.in_(subscription.kinds))
    if subscription.indications:
        conditions.append(Alert.indication.in_(subscription.indications))
    if subscription.categories:
        conditions.append(
            or_(*(Alert.categories.contains(f",{category},", autoescape=True) for category in subscription.categories))
        )
    return and_(*conditions)


def _new_token() -> str:
    """A random unsubscribe token that never starts with "-" (a command line would read it as an option)."""
    token = secrets.token_urlsafe(24)
    while token.startswith("-"):
        token = secrets.token_urlsafe(24)
    return token
