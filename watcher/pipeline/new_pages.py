"""New-page alerts (the flow's last step, for pages that discovery found): the first version of a
page found by any discovery after a site's baseline (``watcher.pipeline.discover``) is news.

Its first snapshot raises a ``new_page`` alert carrying its claims (indications with strengths and
evidence sentences, treatments, recruitment/testimonial/safety markers, reference count), the
marker alerts of the page (``trial_or_monitor_recruitment``, ``testimonial_added``, ...), and, for
each indication that no other page of the clinic ever claimed (strength >= 1) before, a clinic-level
``new_indication`` alert (``details["scope"] == "clinic"``): "clinic X now claims bipolar_disorder,
first seen on new page Y". Nothing for baseline pages or pages added by hand.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION, ClaimProfile, Finding, compare
from watcher.claims.compare import (
    NEW_INDICATION,
    SAFETY_CLAIM_ADDED,
    SUPERLATIVE_ADDED,
    TESTIMONIAL_ADDED,
    TRIAL_OR_MONITOR_RECRUITMENT,
)
from watcher.describe import STRENGTH_WORDS
from watcher.models import Alert, ClaimProfileRecord, Source, TextVersion
from watcher.pipeline.alerts import record_alerts
from watcher.sources import clinic_peers, is_new_page

log = logging.getLogger(__name__)

NEW_PAGE = "new_page"


def alert_new_page(session: Session, source: Source, version: TextVersion, profile: ClaimProfile) -> list[Alert]:
    """The alerts of a newly discovered page's first version (see the module docstring); nothing for
    baseline pages or pages added by hand."""
    if not is_new_page(source):
        return []
    site = session.get(Source, source.discovered_from_id) if source.discovered_from_id else None
    marker_kinds = {TRIAL_OR_MONITOR_RECRUITMENT, TESTIMONIAL_ADDED, SUPERLATIVE_ADDED, SAFETY_CLAIM_ADDED}
    markers = [f for f in compare(ClaimProfile(language=profile.language), profile) if f.kind in marker_kinds]
    claimed = {key: claim for key, claim in sorted(profile.indications.items()) if claim.strength >= 1}
    claims = {
        key: {"strength": claim.strength, "treatments": list(claim.treatments), "evidence": list(claim.evidence[:3])}
        for key, claim in claimed.items()
    }
    strongest = max((claim.strength for claim in claimed.values()), default=0)
    severity = (
        "high"
        if strongest >= 3 or any(m.severity == "high" for m in markers)
        else ("medium" if claims or markers else "low")
    )
    title = version.title or source.url
    summary = f"new page 「{title}」"
    if claims:
        summary += ": claims " + ", ".join(f"{key} ({_strength_word(c.strength)})" for key, c in claimed.items())
    if markers:
        summary += "; " + ", ".join(sorted({m.kind for m in markers}))
    page = Finding(NEW_PAGE, severity, after=summary)  # the evidence sentences are in details["indications"]
    created = record_alerts(
        session,
        [page],
        old=None,
        new=version,
        details={
            "scope": "page",
            "url": source.url,
            "title": version.title,
            "discovered_from": site.url if site else None,
            "indications": claims,
            "treatments": list(profile.treatments),
            "markers": [{"kind": m.kind, "group": m.group, "text": m.after} for m in markers],
            "references": len(profile.references),
        },
    )
    created += record_alerts(session, markers, old=None, new=version)
    clinic_findings = []
    claimed_before, named_before = _clinic_claims_before(session, source)
    for key, claim in sorted(profile.indications.items()):
        if claim.strength < 1 or key in claimed_before:
            continue
        clinic_findings.append(
            Finding(
                NEW_INDICATION,
                "high" if claim.strength >= 2 else "medium",
                indication=key,
                strength_before=0 if key in named_before else None,
                strength_after=claim.strength,
                before=named_before.get(key) or None,
                after=claim.evidence[0],
                treatments=claim.treatments,
            )
        )
    clinic = source.clinic.name if source.clinic else None
    created += record_alerts(
        session,
        clinic_findings,
        old=None,
        new=version,
        scope="clinic",
        details={
            "clinic": clinic,
            "first_seen_url": source.url,
            "first_seen_title": version.title,
            "discovered_from": site.url if site else None,
        },
    )
    for alert in created:
        log.info(
            "alert %s %s on new page %s%s",
            alert.kind,
            alert.indication or "",
            source.url,
            " (clinic level)" if alert.details.get("scope") == "clinic" else "",
        )
    return created


def _strength_word(strength: int) -> str:
    return STRENGTH_WORDS.get(strength, str(strength))


def _clinic_claims_before(session: Session, source: Source) -> tuple[set[str], dict[str, str]]:
    """Indications the other pages of the source's clinic (or, without a clinic, of its site) ever
    claimed, and those they only named (excluded or mentioned), with a sentence that names them."""
    peers = clinic_peers(source)
    rows = session.execute(
        select(ClaimProfileRecord.indications, ClaimProfileRecord.profile).where(
            ClaimProfileRecord.source_id.in_(peers), ClaimProfileRecord.analyser_version == ANALYSER_VERSION
        )
    ).all()
    claimed: set[str] = set()
    named: dict[str, str] = {}
    for indications, profile in rows:
        claimed.update(key for key, strength in (indications or {}).items() if int(strength) >= 1)
        for key, sentences in (profile.get("excluded") or {}).items():
            if sentences:
                named.setdefault(key, str(sentences[0]))
        for key in profile.get("mentioned") or ():
            named.setdefault(key, "")
    return claimed, {key: text for key, text in named.items() if key not in claimed}
