"""Analysing a new text version (the flow's third step): profile it, compare the profile with the
previous comparable version's, and record the findings as alerts (``watcher.pipeline.alerts``); the
first version of a newly discovered page goes to ``watcher.pipeline.new_pages`` instead. Also the
re-derivations that never alert: ``reanalyze`` (every source, after an extractor or analyser
upgrade) and ``rederive_source`` (one source whose CSS selectors changed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from watcher.capture import sha256_hex
from watcher.claims import ANALYSER_VERSION, ClaimProfile, analyze, compare
from watcher.extract import Selectors, extract_document
from watcher.models import ClaimProfileRecord, Snapshot, Source, TextVersion, raw_bytes
from watcher.pipeline.alerts import record_alerts
from watcher.pipeline.new_pages import alert_new_page
from watcher.pipeline.passages import rebuild_source, reindex
from watcher.sources import extraction_selectors, extractor_version_sql, set_selectors, source_extractor_version

log = logging.getLogger(__name__)


# One statement object for every lookup: built and given its cache key once, not per changed page.
_STORED_PROFILE = select(ClaimProfileRecord.profile).where(
    ClaimProfileRecord.text_version_id == bindparam("text_version_id"),
    ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
)


def profile_of(session: Session, version: TextVersion) -> ClaimProfile:
    """The stored profile for the current analyser version, computing and storing it when missing.

    The lookup does not autoflush: a version's profile is flushed by the part of the batch that
    stored the version (``watcher.pipeline.record``), so the previous version's is in the database
    already, and the profiles the current part added wait for its one INSERT instead of each going
    alone before this query."""
    with session.no_autoflush:
        stored = session.scalar(_STORED_PROFILE, {"text_version_id": version.id})
    if stored is not None:
        return ClaimProfile.from_dict(stored)
    profile, _record = _add_profile(session, version)
    session.flush()
    return profile


def _add_profile(
    session: Session, version: TextVersion, *, language: str | None = None
) -> tuple[ClaimProfile, ClaimProfileRecord]:
    """Compute a version's profile and add its record to the session (inserted by the next flush).
    ``language``: the version's own, when the extractor has just detected it on this very text (the
    profile's would be the same count over the same letters: ``watcher.claims.language``)."""
    profile = analyze(version.text, language)
    record = ClaimProfileRecord(
        text_version_id=version.id,
        source_id=version.source_id,
        analyser_version=ANALYSER_VERSION,
        profile=profile.to_dict(),
        indications=profile.indication_strengths(),
        reference_count=len(profile.references),
    )
    session.add(record)
    return profile, record


# The stored profiles of several versions (``ids``) under the current analyser version.
_STORED_PROFILES = select(ClaimProfileRecord.text_version_id, ClaimProfileRecord.profile).where(
    ClaimProfileRecord.text_version_id.in_(bindparam("ids", expanding=True)),
    ClaimProfileRecord.analyser_version == ANALYSER_VERSION,
)


def analyse_new_versions(
    session: Session, versions: Sequence[tuple[TextVersion, TextVersion | None]]
) -> list[ClaimProfileRecord | None]:
    """``analyse_new_version`` for a part of a batch's new versions, (new, previous) each: the stored
    profiles of their previous versions are read by one query (without an autoflush, as
    ``profile_of``), not one per changed page; a previous version without one is profiled as
    ``profile_of`` does."""
    ids = sorted({previous.id for _version, previous in versions if previous is not None})
    stored: dict[int, dict[str, Any]] = {}
    if ids:
        with session.no_autoflush:
            for version_id, profile in session.execute(_STORED_PROFILES, {"ids": ids}):
                stored[version_id] = profile
    return [_analyse(session, version, previous, stored) for version, previous in versions]


def analyse_new_version(
    session: Session, version: TextVersion, previous: TextVersion | None
) -> ClaimProfileRecord | None:
    """The pipeline's hook for every new text version, called once just after it is stored (so it has no
    profile yet): profile it and alert on findings. Returns the profile's record, added to the session
    and not flushed (the recording flushes a batch's profiles at once); None for a site source."""
    return _analyse(session, version, previous, {})


def _analyse(
    session: Session, version: TextVersion, previous: TextVersion | None, stored: dict[int, dict[str, Any]]
) -> ClaimProfileRecord | None:
    """``analyse_new_version``, the previous version's profile taken from ``stored`` (by text version
    id) when it is there."""
    source = session.get(Source, version.source_id)
    if source is not None and source.kind == "site":
        return None  # an entry point lists posts: its titles are not the clinic's claims (watcher.pipeline.discover)
    profile, record = _add_profile(session, version, language=version.language)
    if previous is None:
        if source is not None and source.discovered_from_id is not None:
            alert_new_page(session, source, version, profile)
        return record
    known = stored.get(previous.id)
    findings = compare(ClaimProfile.from_dict(known) if known is not None else profile_of(session, previous), profile)
    created = record_alerts(session, findings, old=previous, new=version)
    for alert in created:
        log.info("alert %s %s on source %s", alert.kind, alert.indication or alert.reference or "", version.source_id)
    return record


@dataclass(frozen=True)
class ReanalysisReport:
    text_versions_created: int
    profiles_rebuilt: int


def _rederive_snapshots(session: Session, source: Source, snapshots: list[Snapshot]) -> int:
    """Text versions of ``snapshots`` under the source's current extractor version (its selectors),
    for those that lack one; returns how many were made."""
    version_name = source_extractor_version(source)
    selectors = extraction_selectors(source)
    held = set(
        session.scalars(
            select(TextVersion.snapshot_id).where(
                TextVersion.source_id == source.id, TextVersion.extractor_version == version_name
            )
        )
    )
    created = 0
    for snapshot in snapshots:
        if snapshot.id in held:
            continue
        extracted = extract_document(
            raw_bytes(snapshot), content_type=snapshot.content_type, url=snapshot.final_url, selectors=selectors
        )
        session.add(
            TextVersion(
                snapshot_id=snapshot.id,
                source_id=source.id,
                extractor_version=version_name,
                title=extracted.title,
                language=extracted.language,
                text=extracted.text,
                text_sha256=sha256_hex(extracted.text.encode("utf-8")),
                extraction_doubt=extracted.doubt,
            )
        )
        created += 1
    session.flush()
    return created


def _snapshots_of(session: Session, source_id: int) -> list[Snapshot]:
    return list(session.scalars(select(Snapshot).where(Snapshot.source_id == source_id).order_by(Snapshot.id)))


def rederive_source(session: Session, source: Source) -> ReanalysisReport:
    """After a change of the source's selectors: its text versions and claim profiles under the new
    extractor version, from its stored snapshots. Never raises alerts, so a change of selectors never
    reads as a change of claims; the next check compares with the re-derived text."""
    created = _rederive_snapshots(session, source, _snapshots_of(session, source.id))
    rebuilt = 0
    if source.kind != "site":
        versions = session.scalars(
            select(TextVersion)
            .where(
                TextVersion.source_id == source.id, TextVersion.extractor_version == source_extractor_version(source)
            )
            .order_by(TextVersion.id)
        ).all()
        for version in versions:
            profile_of(session, version)
            rebuilt += 1
    rebuild_source(session, source.id)  # the search index reads the re-derived texts and profiles
    return ReanalysisReport(text_versions_created=created, profiles_rebuilt=rebuilt)


def change_selectors(session: Session, source: Source, selectors: Selectors) -> ReanalysisReport | None:
    """Set a source's CSS selectors and re-derive its texts (``rederive_source``); for a site, also
    for the pages discovered from it that still have the selectors they inherited from it. None when
    nothing changed; else the sum of the re-derivations."""
    inherited = (
        session.scalars(
            select(Source).where(
                Source.discovered_from_id == source.id,
                Source.kind == "page",
                Source.selectors_key.is_(None)
                if source.selectors_key is None
                else Source.selectors_key == source.selectors_key,
            )
        ).all()
        if source.kind == "site"
        else []
    )
    changed = [item for item in (source, *inherited) if set_selectors(item, selectors)]
    if not changed:
        return None
    session.flush()
    reports = [rederive_source(session, item) for item in changed]
    return ReanalysisReport(
        text_versions_created=sum(r.text_versions_created for r in reports),
        profiles_rebuilt=sum(r.profiles_rebuilt for r in reports),
    )


def reanalyze(session: Session) -> ReanalysisReport:
    """Re-derive text versions (current extractor, each source's selectors) and claim profiles
    (current analyser) from the stored snapshots. Never raises alerts: the alerts stand for what was
    detected at the time."""
    created = 0
    for source in session.scalars(select(Source).order_by(Source.id)).all():
        created += _rederive_snapshots(session, source, _snapshots_of(session, source.id))
    session.execute(delete(ClaimProfileRecord).where(ClaimProfileRecord.analyser_version != ANALYSER_VERSION))
    rebuilt = 0
    # Site sources (sitemaps, blog listings) have no claim profile: see analyse_new_version.
    versions = session.scalars(
        select(TextVersion)
        .join(Source, Source.id == TextVersion.source_id)
        .where(TextVersion.extractor_version == extractor_version_sql(), Source.kind != "site")
        .order_by(TextVersion.id)
    ).all()
    for version in versions:
        session.execute(delete(ClaimProfileRecord).where(ClaimProfileRecord.text_version_id == version.id))
        profile_of(session, version)
        rebuilt += 1
    reindex(session)  # the search index of the sources with new texts or profiles
    return ReanalysisReport(text_versions_created=created, profiles_rebuilt=rebuilt)
