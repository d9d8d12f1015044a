"""Analysing a new text version (the flow's third step): profile it, compare the profile with the
previous comparable version's, and record the findings as alerts (``watcher.pipeline.alerts``); the
first version of a newly discovered page goes to ``watcher.pipeline.new_pages`` instead. Also the
re-derivation (``reanalyze``) that never alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from watcher.capture import sha256_hex
from watcher.claims import ANALYSER_VERSION, ClaimProfile, analyze, compare
from watcher.extract import EXTRACTOR_VERSION, extract_document
from watcher.models import ClaimProfileRecord, Snapshot, Source, TextVersion, raw_bytes
from watcher.pipeline.alerts import record_alerts
from watcher.pipeline.new_pages import alert_new_page

log = logging.getLogger(__name__)


def profile_of(session: Session, version: TextVersion) -> ClaimProfile:
    """The stored profile for the current analyser version, computing and storing it when missing."""
    record = session.scalar(select(ClaimProfileRecord).where(
        ClaimProfileRecord.text_version_id == version.id,
        ClaimProfileRecord.analyser_version == ANALYSER_VERSION))
    if record is not None:
        return ClaimProfile.from_dict(record.profile)
    profile = analyze(version.text)
    data = profile.to_dict()
    session.add(ClaimProfileRecord(
        text_version_id=version.id, source_id=version.source_id, analyser_version=ANALYSER_VERSION,
        profile=data, indications=profile.indication_strengths(), reference_count=len(profile.references)))
    session.flush()
    return profile


def analyse_new_version(session: Session, version: TextVersion, previous: TextVersion | None) -> None:
    """The pipeline's hook for every new text version: profile it and alert on findings."""
    source = session.get(Source, version.source_id)
    if source is not None and source.kind == "site":
        return  # an entry point lists posts: its titles are not the clinic's claims (watcher.pipeline.discover)
    profile = profile_of(session, version)
    if previous is None:
        if source is not None and source.discovered_from_id is not None:
            alert_new_page(session, source, version, profile)
        return
    findings = compare(profile_of(session, previous), profile)
    created = record_alerts(session, findings, old=previous, new=version)
    for alert in created:
        log.info("alert %s %s on source %s", alert.kind, alert.indication or alert.reference or "",
                 version.source_id)


@dataclass(frozen=True)
class ReanalysisReport:
    text_versions_created: int
    profiles_rebuilt: int


def reanalyze(session: Session) -> ReanalysisReport:
    """Re-derive text versions (current extractor) and claim profiles (current analyser) from the
    stored snapshots. Never raises alerts: the alerts stand for what was detected at the time."""
    created = 0
    snapshots = session.scalars(select(Snapshot).order_by(Snapshot.id)).all()
    for snapshot in snapshots:
        exists = session.scalar(select(TextVersion.id).where(
            TextVersion.snapshot_id == snapshot.id, TextVersion.extractor_version == EXTRACTOR_VERSION))
        if exists is None:
            extracted = extract_document(raw_bytes(snapshot), content_type=snapshot.content_type,
                                         url=snapshot.final_url)
            session.add(TextVersion(snapshot_id=snapshot.id, source_id=snapshot.source_id,
                                    extractor_version=EXTRACTOR_VERSION, title=extracted.title,
                                    language=extracted.language, text=extracted.text,
                                    text_sha256=sha256_hex(extracted.text.encode("utf-8"))))
            created += 1
    session.flush()
    session.execute(delete(ClaimProfileRecord).where(ClaimProfileRecord.analyser_version != ANALYSER_VERSION))
    rebuilt = 0
    # Site sources (sitemaps, blog listings) have no claim profile: see analyse_new_version.
    versions = session.scalars(select(TextVersion).join(Source, Source.id == TextVersion.source_id)
                               .where(TextVersion.extractor_version == EXTRACTOR_VERSION, Source.kind != "site")
                               .order_by(TextVersion.id)).all()
    for version in versions:
        session.execute(delete(ClaimProfileRecord).where(ClaimProfileRecord.text_version_id == version.id))
        profile_of(session, version)
        rebuilt += 1
    return ReanalysisReport(text_versions_created=created, profiles_rebuilt=rebuilt)
