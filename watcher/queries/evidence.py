"""Where a quoted sentence comes from. A clinic-level alert (a new page claims an indication the
clinic's other pages did not) may quote as "before" a sentence of *another* page of the clinic, one
that named the indication without claiming it. Quoting it under the new page's URL would misattribute
it: ``before_origin`` finds the page and capture it was quoted from, so that the dashboard, the mails
and the digests name them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.models import Alert, ClaimProfileRecord, Snapshot, Source, TextVersion
from watcher.sources import clinic_peers


def before_origin(session: Session, alert: Alert) -> dict[str, Any] | None:
    """For a clinic-level alert with a "before" sentence: the latest capture of another page of the
    clinic (or, without a clinic, of its site) up to the alert's capture whose claim profile or text
    holds the sentence: ``source_id``, ``url``, ``title``, ``snapshot_id``, ``fetched_at``. Else None."""
    if (alert.details or {}).get("scope") != "clinic" or not alert.before:
        return None
    source = session.get(Source, alert.source_id)
    if source is None:
        return None
    peers = clinic_peers(source)
    rows = session.execute(
        select(
            ClaimProfileRecord.profile,
            TextVersion.text,
            TextVersion.title,
            Snapshot.id,
            Snapshot.fetched_at,
            Source.id,
            Source.url,
        )
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Snapshot.source_id == Source.id)
        .where(ClaimProfileRecord.source_id.in_(peers), Snapshot.fetched_at <= alert.new_fetched_at)
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
    )
    for profile, text, title, snapshot_id, fetched_at, source_id, url in rows:
        quoted = [sentence for sentences in (profile.get("excluded") or {}).values() for sentence in sentences]
        if alert.before in quoted or alert.before in (text or ""):
            return {
                "source_id": source_id,
                "url": url,
                "title": title,
                "snapshot_id": snapshot_id,
                "fetched_at": fetched_at.isoformat(),
            }
    return None
