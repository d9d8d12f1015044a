"""The regulator's report of one clinic: per page, the medical-advertising guideline categories its
captures fell under (with the evidence sentences) and the required disclosures they lacked, each with
its history — first and last capture that showed it, with capture dates and SHA-256 — and whether the
latest capture still shows it. What a researcher attaches to a report to the MHLW's web patrol or to a
prefecture. Built from the stored claim profiles (current analyser version; per snapshot the text
version of the current extractor, as elsewhere).

``report_rows`` flattens the report into one row per page × finding (the CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watcher.claims import ANALYSER_VERSION
from watcher.claims.regulation import load_rules
from watcher.extract import EXTRACTOR_VERSION
from watcher.models import Check, ClaimProfileRecord, Clinic, Snapshot, Source, TextVersion
from watcher.queries.clinics import resolve_clinic

CATEGORY = "category"
MISSING_DISCLOSURE = "missing_disclosure"
ROW_COLUMNS = (
    "clinic", "source_id", "page_url", "type", "id", "name_ja", "name_en", "evidence", "present_now",
    "first_seen", "first_snapshot_id", "first_sha256", "last_seen", "last_snapshot_id", "last_sha256",
    "latest_capture", "latest_snapshot_id", "latest_sha256", "last_checked_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Capture:
    snapshot_id: int
    fetched_at: datetime
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "fetched_at": self.fetched_at.isoformat(), "sha256": self.sha256}


@dataclass
class _Seen:
    first: _Capture
    last: _Capture
    captures: int = 1


@dataclass
class _Page:
    source_id: int
    url: str
    captures: list[_Capture] = field(default_factory=list)
    seen: dict[tuple[str, str, str], _Seen] = field(default_factory=dict)  # (type, id, evidence) → history
    latest: dict[str, Any] = field(default_factory=dict)  # the latest capture's profile


def regulation_report(session: Session, *, clinic: str) -> dict[str, Any]:
    """The report of the clinic named ``clinic`` (exact name, else case-insensitive)."""
    found = resolve_clinic(session, clinic)
    pages = _pages(session, found)
    checked = dict(
        session.execute(
            select(Check.source_id, func.max(Check.checked_at))
            .where(Check.source_id.in_([page.source_id for page in pages]))
            .group_by(Check.source_id)
        ).all()
    )
    rules = load_rules()
    return {
        "clinic": found.name,
        "clinic_id": found.id,
        "analyser_version": ANALYSER_VERSION,
        "categories": [_label(label) for label in rules.categories],
        "disclosure_items": [{**_label(label), "scope": label.scope} for label in rules.disclosures],
        "pages": [_page_dict(page, checked.get(page.source_id)) for page in pages],
    }


def _label(label: Any) -> dict[str, Any]:
    return {"id": label.id, "ja": label.ja, "en": label.en, "source": label.source}


def _pages(session: Session, clinic: Clinic) -> list[_Page]:
    query = (
        select(Source.id, Source.url, Snapshot.id, Snapshot.fetched_at, Snapshot.sha256,
               TextVersion.extractor_version, ClaimProfileRecord.profile)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Snapshot.source_id == Source.id)
        .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION, Source.clinic_id == clinic.id,
               Source.kind != "site")
        .order_by(Source.url, Snapshot.fetched_at, Snapshot.id, TextVersion.id)
    )  # fmt: skip
    chosen: dict[int, tuple[str, int, str, _Capture, dict[str, Any]]] = {}
    for source_id, url, snapshot_id, fetched_at, sha256, extractor, profile in session.execute(query):
        held = chosen.get(snapshot_id)
        if held is None or held[0] != EXTRACTOR_VERSION:
            chosen[snapshot_id] = (extractor, source_id, url, _Capture(snapshot_id, fetched_at, sha256), profile or {})
    pages: dict[int, _Page] = {}
    for _extractor, source_id, url, capture, profile in chosen.values():  # insertion order: by page, by date
        page = pages.setdefault(source_id, _Page(source_id, url))
        page.captures.append(capture)
        page.latest = profile
        for key in _keys(profile):
            seen = page.seen.get(key)
            if seen is None:
                page.seen[key] = _Seen(capture, capture)
            else:
                seen.last = capture
                seen.captures += 1
    return list(pages.values())


def _keys(profile: dict[str, Any]) -> list[tuple[str, str, str]]:
    keys = [(CATEGORY, str(hit["category"]), str(hit["evidence"])) for hit in profile.get("categories", [])]
    missing = (profile.get("disclosures") or {}).get("missing", [])
    return keys + [(MISSING_DISCLOSURE, str(item), "") for item in missing]


def _page_dict(page: _Page, last_checked: datetime | None) -> dict[str, Any]:
    latest = page.captures[-1]
    now = set(_keys(page.latest))
    entries = []
    for (kind, ident, evidence), seen in page.seen.items():
        entries.append({
            "type": kind, "id": ident, "evidence": evidence or None, "present_now": (kind, ident, evidence) in now,
            "first_seen": seen.first.to_dict(), "last_seen": seen.last.to_dict(), "captures": seen.captures,
        })  # fmt: skip
    disclosures = page.latest.get("disclosures") or {}
    return {
        "source_id": page.source_id,
        "url": page.url,
        "captures": len(page.captures),
        "first_capture": page.captures[0].to_dict(),
        "latest_capture": latest.to_dict(),
        "last_checked_at": last_checked.isoformat() if last_checked else None,
        "categories_now": sorted({ident for kind, ident, _ in now if kind == CATEGORY}),
        "disclosure_scopes": list(disclosures.get("scopes", [])),
        "disclosures_present": dict(disclosures.get("present", {})),
        "categories": [entry for entry in entries if entry["type"] == CATEGORY],
        "missing_disclosures": [entry for entry in entries if entry["type"] == MISSING_DISCLOSURE],
    }


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per page × category sentence or missing disclosure item, in ``ROW_COLUMNS``."""
    names = {item["id"]: item for item in (*report["categories"], *report["disclosure_items"])}
    rows = []
    for page in report["pages"]:
        for entry in (*page["categories"], *page["missing_disclosures"]):
            rows.append({
                "clinic": report["clinic"], "source_id": page["source_id"], "page_url": page["url"],
                "type": entry["type"], "id": entry["id"], "name_ja": names[entry["id"]]["ja"],
                "name_en": names[entry["id"]]["en"], "evidence": entry["evidence"] or "",
                "present_now": entry["present_now"],
                "first_seen": entry["first_seen"]["fetched_at"],
                "first_snapshot_id": entry["first_seen"]["snapshot_id"],
                "first_sha256": entry["first_seen"]["sha256"], "last_seen": entry["last_seen"]["fetched_at"],
                "last_snapshot_id": entry["last_seen"]["snapshot_id"], "last_sha256": entry["last_seen"]["sha256"],
                "latest_capture": page["latest_capture"]["fetched_at"],
                "latest_snapshot_id": page["latest_capture"]["snapshot_id"],
                "latest_sha256": page["latest_capture"]["sha256"], "last_checked_at": page["last_checked_at"] or "",
            })  # fmt: skip
    return rows


def clinics_in_category(session: Session, category: str) -> set[int]:
    """Clinics with a page whose latest capture falls under ``category`` (the matrix's filter)."""
    rank = (
        func.row_number()
        .over(
            partition_by=ClaimProfileRecord.source_id,
            order_by=(Snapshot.fetched_at.desc(), Snapshot.id.desc(), TextVersion.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Source.clinic_id, ClaimProfileRecord.profile, TextVersion.extractor_version, rank)
        .join(TextVersion, ClaimProfileRecord.text_version_id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Source, Snapshot.source_id == Source.id)
        .where(ClaimProfileRecord.analyser_version == ANALYSER_VERSION, Source.clinic_id.is_not(None),
               TextVersion.extractor_version == EXTRACTOR_VERSION)
        .subquery()
    )  # fmt: skip
    found: set[int] = set()
    for clinic_id, profile, _extractor, _rank in session.execute(select(ranked).where(ranked.c.rank == 1)):
        if any(hit.get("category") == category for hit in (profile or {}).get("categories", [])):
            found.add(int(clinic_id))
    return found
