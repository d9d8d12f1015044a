"""Atom 1.0 feeds of alerts: all of them, per clinic, per kind (newest first, at most ``FEED_LIMIT``).

Entry ids are tag URIs built from the public URL's host and the alert id
(``tag:HOST,2026:watcher/alert/ID``), so they stay the same across requests and restarts; an entry's
``updated`` is the alert's latest detection (a flip-flop recurrence updates it). Alerts raised from
web-archive captures are left out, as from mail (the dashboard keeps them, marked as archived). Alert text comes from
scraped pages: it is only ever XML text here (escaped by ElementTree), and the ``type="html"`` content
is rendered by the autoescaping e-mail templates first.

The store and settings come from ``watcher.web.deps`` (``app.state``); like the JSON API's reads, the
feeds need the API token when ``WATCHER_API_READ_TOKEN_REQUIRED=1``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher import __version__
from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, Clinic, utcnow
from watcher.notify.render import AlertView, alert_html, alert_views
from watcher.queries.choices import ALERT_KINDS
from watcher.web.deps import get_settings, get_store, mark_read_guarded, require_read

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
FEED_LIMIT = 100
TAG_YEAR = "2026"

# Feeds are reads: with WATCHER_API_READ_TOKEN_REQUIRED=1 they need the API token like the JSON API.
router = APIRouter(tags=["feeds"], dependencies=[Depends(require_read)])

StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _tag(settings: Settings, specific: str) -> str:
    host = urlsplit(settings.public_url).hostname or "localhost"
    return f"tag:{host},{TAG_YEAR}:watcher/{specific}"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _summary(view: AlertView) -> str:
    lines = [f"{view.description} — {view.clinic}", view.source_url]
    if view.reference:
        lines.append(f"reference: {view.reference}")
    if view.before:
        lines.append(f"before: {view.before}")
    if view.after:
        lines.append(f"after: {view.after}")
    return "\n".join(lines)


def _entry(feed: ET.Element, view: AlertView, updated: datetime, published: datetime, settings: Settings) -> None:
    entry = _sub(feed, "entry")
    _sub(entry, "id", _tag(settings, f"alert/{view.id}"))
    _sub(entry, "title", f"{view.description} — {view.clinic}")
    _sub(entry, "updated", _iso(updated))
    _sub(entry, "published", _iso(published))
    # Readers open the main link: the dashboard's page; the JSON stays one click away for programs.
    _sub(entry, "link", rel="alternate", type="text/html", href=view.alert_link)
    _sub(entry, "link", rel="alternate", type="application/json", href=view.api_link)
    _sub(entry, "link", rel="related", type="text/html", href=view.source_url, title="the page")
    if view.diff_link:
        _sub(entry, "link", rel="related", href=view.diff_link, title="diff of the two captures")
    _sub(entry, "category", term=view.kind, label=view.kind.replace("_", " "))
    _sub(entry, "category", term=f"severity:{view.severity}", label=f"severity {view.severity}")
    if view.indication:
        _sub(entry, "category", term=f"indication:{view.indication}", label=view.indication_label or view.indication)
    _sub(entry, "summary", _summary(view), type="text")
    _sub(entry, "content", alert_html(view), type="html")


def atom_feed(
    session: Session,
    settings: Settings,
    *,
    feed_path: str,
    title: str,
    subtitle: str,
    clinic_id: int | None = None,
    kind: str | None = None,
) -> bytes:
    """The feed document for the alerts matching the clinic/kind filter."""
    # Alerts raised from web-archive captures (watcher backfill) are history, not news: left out as in mail.
    query = select(Alert.id, Alert.detected_at, Alert.last_detected_at).where(~Alert.from_archive)
    if clinic_id is not None:
        query = query.where(Alert.clinic_id == clinic_id)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    rows = session.execute(query.order_by(Alert.detected_at.desc(), Alert.id.desc()).limit(FEED_LIMIT)).all()
    times = {row.id: (row.last_detected_at or row.detected_at, row.detected_at) for row in rows}
    views = sorted(alert_views(session, times, settings), key=lambda v: (times[v.id][1], v.id), reverse=True)

    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", _tag(settings, feed_path.removesuffix(".atom").lstrip("/")))
    _sub(feed, "title", title)
    _sub(feed, "subtitle", subtitle)
    updated = max((t[0] for t in times.values()), default=None) or utcnow()
    _sub(feed, "updated", _iso(updated))
    _sub(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=f"{settings.public_url}{feed_path}")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{settings.public_url}/")
    author = _sub(feed, "author")
    _sub(author, "name", "watcher")
    _sub(feed, "generator", "watcher", version=__version__)
    for view in views:
        _entry(feed, view, times[view.id][0], times[view.id][1], settings)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _atom(body: bytes) -> Response:
    return Response(content=body, media_type=f"{ATOM_MEDIA_TYPE}; charset=utf-8")


@router.get("/feeds/alerts.atom", response_class=Response, summary="Atom feed of all alerts")
def all_alerts_feed(store: StoreDep, settings: SettingsDep) -> Response:
    with store.session() as session:
        return _atom(
            atom_feed(
                session,
                settings,
                feed_path="/feeds/alerts.atom",
                title="watcher: alerts",
                subtitle="Medical-claim changes on watched clinic pages",
            )
        )


@router.get("/feeds/clinics/{clinic_id}.atom", response_class=Response, summary="Atom feed of one clinic's alerts")
def clinic_alerts_feed(clinic_id: str, store: StoreDep, settings: SettingsDep) -> Response:
    with store.session() as session:
        clinic = session.get(Clinic, int(clinic_id)) if clinic_id.isdigit() else None
        if clinic is None:
            raise HTTPException(
                status_code=404,
                detail=f"no clinic with id {clinic_id!r}: clinic feeds are "
                "/feeds/clinics/ID.atom with a numeric clinic id",
            )
        return _atom(
            atom_feed(
                session,
                settings,
                feed_path=f"/feeds/clinics/{clinic.id}.atom",
                title=f"watcher: alerts for {clinic.name}",
                subtitle=f"Claim changes of {clinic.name}",
                clinic_id=clinic.id,
            )
        )


@router.get("/feeds/kinds/{kind}.atom", response_class=Response, summary="Atom feed of one kind of alert")
def kind_alerts_feed(kind: str, store: StoreDep, settings: SettingsDep) -> Response:
    if kind not in ALERT_KINDS:
        raise HTTPException(status_code=404, detail=f"unknown alert kind {kind!r}: use one of {', '.join(ALERT_KINDS)}")
    with store.session() as session:
        return _atom(
            atom_feed(
                session,
                settings,
                feed_path=f"/feeds/kinds/{kind}.atom",
                title=f"watcher: {kind.replace('_', ' ')} alerts",
                subtitle=f"Alerts of kind {kind}",
                kind=kind,
            )
        )


mark_read_guarded(router)  # every feed follows the read-token rule (see the OpenAPI schema)
