"""History from before the first check: a source's captures in a web archive, recorded as history.

``backfill`` lists the archive's captures of a source (``watcher.webarchive``: CDX API or Memento
TimeMap, duplicate digests collapsed), fetches each original payload, and records it through the
same path as live captures and WARC imports (``watcher.warc.record_external``: quality gate,
snapshot, text version, change, claim profile, findings), oldest first. A backfilled check and
snapshot carry the archive's capture time and its capture URL (``archive_url``, the provenance).

Idempotent and resumable: a capture whose archive URL a check of the source already carries is
skipped, so a second run adds nothing and an interrupted one (the archive down, Ctrl-C, ``--limit``)
continues where it stopped. History, not news: alerts of backfilled captures are never mailed
(``watcher.subscriptions``), and the next live capture is compared with the newest archived version.
A capture older than stored history is compared with the version before it; the later history is
left as it stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from watcher.config import Settings
from watcher.db import Store
from watcher.errors import FetchError, NotFoundError
from watcher.models import Check, Source
from watcher.warc import Tally, record_external
from watcher.webarchive import WebArchive

log = logging.getLogger(__name__)


@dataclass
class BackfillReport(Tally):
    source_id: int = 0
    url: str = ""
    archive: str = ""
    listed_via: str = ""
    listed: int = 0  # captures listed, after collapsing duplicate digests
    duplicates: int = 0  # adjacent captures with an unchanged digest, not fetched
    already_recorded: int = 0
    unavailable: int = 0  # listed, but the archive could not serve the payload
    left_by_limit: int = 0
    first_capture: datetime | None = None
    last_capture: datetime | None = None
    stopped: str | None = None  # why the run stopped early (the archive down or rate-limiting)
    recorded: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "url": self.url,
            "archive": self.archive,
            "listed_via": self.listed_via,
            "listed": self.listed,
            "duplicates": self.duplicates,
            "already_recorded": self.already_recorded,
            "unavailable": self.unavailable,
            "left_by_limit": self.left_by_limit,
            "checks": self.checks,
            "snapshots": self.snapshots,
            "outcomes": dict(sorted(self.outcomes.items())),
            "first_capture": self.first_capture.isoformat() if self.first_capture else None,
            "last_capture": self.last_capture.isoformat() if self.last_capture else None,
            "stopped": self.stopped,
            "recorded": self.recorded,
        }


def backfill(
    store: Store,
    source_id: int,
    *,
    settings: Settings,
    archive: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    client: WebArchive | None = None,
) -> BackfillReport:
    """Record the archive's captures of a source (see the module doc). An archive that fails before
    anything is listed raises ``FetchError``; one that fails midway stops the run, and the report
    says why (``stopped``): what was recorded stays, and the next run resumes."""
    web = client or WebArchive(archive or settings.archive_url, settings=settings)
    with store.session() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFoundError(f"no source {source_id} (see `watcher sources list`)")
        url = source.url
        done = set(
            session.scalars(
                select(Check.archive_url).where(Check.source_id == source_id, Check.archive_url.is_not(None))
            )
        )
    report = BackfillReport(source_id=source_id, url=url, archive=web.base)
    listing = web.captures(url, since=since, until=until)
    report.listed_via, report.listed, report.duplicates = listing.via, len(listing.captures), listing.duplicates
    for archived in listing.captures:
        if web.capture_url(archived) in done:
            report.already_recorded += 1
            continue
        if limit is not None and report.checks >= limit:
            report.left_by_limit += 1
            continue
        try:
            capture = web.fetch(archived, source_id=source_id, requested_url=url)
        except FetchError as error:
            report.stopped = str(error)
            log.warning("backfill of %s stopped: %s", url, error)
            break
        if capture is None:
            report.unavailable += 1
            continue
        result = record_external(store, capture, settings=settings, tally=report)
        report.first_capture = min(filter(None, (report.first_capture, capture.fetched_at)))
        report.last_capture = max(filter(None, (report.last_capture, capture.fetched_at)))
        report.recorded.append(
            {
                "archive_url": capture.archive_url,
                "captured_at": capture.fetched_at.isoformat(),
                "http_status": capture.status,
                **{key: value for key, value in result.to_dict().items() if key in ("outcome", "snapshot_id", "error")},
            }
        )
    return report
