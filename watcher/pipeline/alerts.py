"""Alerts (the flow's fourth step): findings recorded against a source, once per distinct transition.

Identity and the flip-flop rule. An alert's identity within a source is
``kind | subject | strength_before > strength_after`` where the subject is the indication id or the
reference's stable key. Re-processing the same pair of snapshots never adds anything. When a page
flip-flops (A → B → A → B), the second A → B transition has the same identity as the first: instead of
a new alert, the existing one gets ``occurrences += 1`` and ``last_snapshot_id``/``last_detected_at``
point at the latest recurrence. Researchers are told once; journalists still see that the claim came
back and when (the occurrences and the snapshots). A transition with different strengths (say 1 → 3
after an earlier 1 → 4) is a different alert.

History is not news, but its recurrence is. An alert raised by a capture from a web archive
(``watcher backfill``) is never mailed. When a live capture later repeats its exact transition, that is
the first time anyone could be told: a second alert with the identity ``live|…`` is raised once (mailed
and in the feeds like any live alert; ``details["archived_alert_id"]`` names the archived one), and
later recurrences, live or archived, bump that live alert. Re-processing a snapshot either alert
already holds adds nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from watcher.claims import Finding
from watcher.models import Alert, Source, TextVersion, utcnow

FINDING_FIELDS = ("kind", "severity", "indication", "reference", "strength_before", "strength_after", "before", "after")
KEYS_PER_QUERY = 500  # identities per IN (...) list
LIVE_PREFIX = "live|"  # the identity of a live recurrence of an alert first raised from a web archive
# One statement object for every lookup (an expanding IN list): built and given its cache key once.
_STORED_ALERTS = select(Alert).where(
    Alert.source_id == bindparam("source_id"), Alert.dedupe_key.in_(bindparam("keys", expanding=True))
)


def dedupe_key(finding: Finding) -> str:
    key = f"{finding.key()}|{finding.strength_before}>{finding.strength_after}"
    if len(key) > 200:
        key = key[:120] + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def record_alerts(
    session: Session,
    findings: list[Finding],
    *,
    old: TextVersion | None,
    new: TextVersion,
    scope: str | None = None,
    details: dict[str, Any] | None = None,
) -> list[Alert]:
    """Store findings as alerts; returns the alerts that are new (not recurrences or repeats).

    The new alerts are added to the session, not flushed: the caller's next flush inserts them (the
    recording flushes a part's profiles and alerts at once, ``watcher.pipeline.record``), so a changed
    page costs no flush of its own. Alerts added and not flushed yet count as stored.

    ``details`` is merged into every alert's details. A ``scope`` (``"clinic"`` for the clinic-level
    alerts of a new page, see watcher.pipeline.new_pages) is stored as ``details["scope"]`` and is part of the
    identity, so a clinic-level alert never merges with a page-level one of the same source.
    """
    source = session.get(Source, new.source_id)
    if source is None:
        raise LookupError(f"no source {new.source_id}")
    created: list[Alert] = []
    archived = new.snapshot.archive_url is not None
    keys = [dedupe_key(finding) if scope is None else f"{scope}|{dedupe_key(finding)}" for finding in findings]
    if not keys:
        return created
    # The source's alerts of these identities, read at once (without an autoflush: the pending ones are
    # taken from the session); the alerts added below join them.
    names = {name for key in keys for name in (key, f"{LIVE_PREFIX}{key}")}
    wanted = sorted(names)
    stored: dict[str, Alert] = {
        alert.dedupe_key: alert
        for alert in session.new
        if isinstance(alert, Alert) and alert.source_id == source.id and alert.dedupe_key in names
    }
    with session.no_autoflush:
        for start in range(0, len(wanted), KEYS_PER_QUERY):
            chunk = wanted[start : start + KEYS_PER_QUERY]
            for alert in session.scalars(_STORED_ALERTS, {"source_id": source.id, "keys": chunk}):
                stored[alert.dedupe_key] = alert
    for finding, key in zip(findings, keys, strict=True):
        live_key = f"{LIVE_PREFIX}{key}"
        known = {name: stored[name] for name in (key, live_key) if name in stored}
        if any(new.snapshot_id in (alert.new_snapshot_id, alert.last_snapshot_id) for alert in known.values()):
            continue  # re-processing a snapshot already counted
        first, live = known.get(key), known.get(live_key)
        existing = (first or live) if archived else (live or first)
        if existing is not None and inspect(existing).pending:
            session.flush()  # its id and its from_archive (read back from its snapshot) are needed below
        if existing is not None and (archived or not existing.from_archive):
            existing.occurrences += 1
            existing.last_snapshot_id = new.snapshot_id
            existing.last_detected_at = utcnow()
            continue
        extra = {"archived_alert_id": existing.id} if existing is not None else {}
        alert = Alert(
            source_id=source.id,
            clinic_id=source.clinic_id,
            **{name: getattr(finding, name) for name in FINDING_FIELDS},
            old_snapshot_id=old.snapshot_id if old else None,
            new_snapshot_id=new.snapshot_id,
            old_fetched_at=old.snapshot.fetched_at if old else None,
            new_fetched_at=new.snapshot.fetched_at,
            dedupe_key=key if existing is None else live_key,
            categories=f",{','.join(finding.categories)}," if finding.categories else None,
            details={**finding.to_dict(), **(details or {}), **({"scope": scope} if scope else {}), **extra},
        )
        session.add(alert)
        stored[alert.dedupe_key] = alert
        created.append(alert)
    return created
