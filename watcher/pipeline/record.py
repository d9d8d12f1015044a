"""Recording a capture (the flow's second step): a Capture becomes a Check, and — when the page's
text changed — a Snapshot, a TextVersion and a Change against the previous comparable version.

One place decides what a capture is (see ``record_capture``): fetch errors and quality-gate failures
become failed checks and never reach the diff; unchanged text costs one check row, not a copy. A
site source that is a sitemap or feed is compared as its list of URLs (``assess_site_document``).
Each new text version is handed to ``on_new_version`` (``watcher.pipeline.analyse``, next step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Select, Table, bindparam, exists, func, insert, inspect, select
from sqlalchemy.orm import Session, aliased, contains_eager

from watcher.capture import Capture, FetchTarget, one_line, sha256_hex
from watcher.changes import diff_texts
from watcher.config import Settings
from watcher.errors import InputError
from watcher.extract import Extracted, Selectors, decode_body, extract_document
from watcher.links import DocumentError, is_xml_document, parse_xml_links, ungzip
from watcher.models import (
    Alert,
    Base,
    Body,
    Change,
    Check,
    ClaimProfileRecord,
    IndicationStep,
    PassageIndexState,
    Screenshot,
    Snapshot,
    Source,
    TextVersion,
    body_bytes,
    store_bodies,
)
from watcher.pipeline.passages import index_new_versions
from watcher.quality import Verdict, assess
from watcher.shell import shell_hint
from watcher.sources import discovery_info, extraction_selectors, source_extractor_version

log = logging.getLogger(__name__)
# The error kind of a check whose capture could not be recorded (``unrecordable``).
RECORD_FAILED = "record_failed"

# Outcomes of a check (the vocabulary of DESIGN.md §2).
CHANGED, UNCHANGED, NOT_MODIFIED, ERROR, BLOCKED = "changed", "unchanged", "not_modified", "error", "blocked"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    source_id: int
    url: str
    check_id: int
    outcome: str
    http_status: int | None
    snapshot_id: int | None
    change_id: int | None
    error: str | None
    # The source may need more after this check (a site source's discovery, a discovered page's links,
    # a --requisites source's requisites): the rest are left out of the run's follow-up steps.
    follow_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "url": self.url,
            "check_id": self.check_id,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "snapshot_id": self.snapshot_id,
            "change_id": self.change_id,
            "error": self.error,
        }


# Called for every new text version with (session, new, previous); the claim analysis hooks in here. It
# returns the claim profile it stored for the new version (not flushed yet), if any: the passage index
# takes a page's first indication steps from it instead of reading it back.
VersionHook = Callable[[Session, TextVersion, TextVersion | None], ClaimProfileRecord | None]
# The same for a part's new versions at once, (new, previous) each, their profiles in order: what the
# hook reads for each version can then be read for all of them by one query.
VersionsHook = Callable[[Session, Sequence[tuple[TextVersion, TextVersion | None]]], list[ClaimProfileRecord | None]]


def _latest_text_version_query(*, before: bool) -> Select[TextVersion]:
    base = aliased(Body)
    query = (
        select(TextVersion)
        .options(
            contains_eager(TextVersion.snapshot)
            .contains_eager(Snapshot.body)
            .contains_eager(Body.base_body.of_type(base))
        )
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Body, Snapshot.sha256 == Body.sha256)
        .outerjoin(base, Body.base == base.sha256)
        .where(
            TextVersion.source_id == bindparam("b_source"),
            TextVersion.extractor_version == bindparam("b_extractor", type_=TextVersion.extractor_version.type),
        )
    )
    if before:
        query = query.where(Snapshot.fetched_at < bindparam("b_before", type_=Snapshot.fetched_at.type))
    return query.order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)


# Built once: building the eager-loading select each call cost more than running it (issue 14).
_LATEST_TEXT_VERSION = {before: _latest_text_version_query(before=before) for before in (False, True)}


def latest_text_version(session: Session, source: Source, *, before: datetime | None = None) -> TextVersion | None:
    """The source's newest text version under its current extractor version (its selectors' one),
    or its newest captured before ``before`` when given; its snapshot is loaded with it, and the
    snapshot's stored body with that body's base (one query: the recording compares the snapshot's
    hash, the alerts read its time, a changed page's new body is stored against that body)."""
    params: dict[str, Any] = {"b_source": source.id, "b_extractor": source_extractor_version(source)}
    if before is not None:
        params["b_before"] = before
    return session.scalar(_LATEST_TEXT_VERSION[before is not None], params)


def _latest_text_versions_query() -> Select[TextVersion]:
    """``latest_text_version`` for several sources of one extractor version (``b_sources``,
    ``b_extractor``): each one's newest text version ranked among its own by the same order, loaded
    with the same snapshot, body and base."""
    version, snapshot, body = aliased(TextVersion), aliased(Snapshot), aliased(Body)
    newest_first = (snapshot.fetched_at.desc(), snapshot.id.desc())
    ranked = (
        select(version.id, func.row_number().over(partition_by=version.source_id, order_by=newest_first).label("place"))
        .join(snapshot, version.snapshot_id == snapshot.id)
        .join(body, snapshot.sha256 == body.sha256)
        .where(
            version.source_id.in_(bindparam("b_sources", expanding=True)),
            version.extractor_version == bindparam("b_extractor", type_=TextVersion.extractor_version.type),
        )
        .subquery()
    )
    base = aliased(Body)
    return (
        select(TextVersion)
        .options(
            contains_eager(TextVersion.snapshot)
            .contains_eager(Snapshot.body)
            .contains_eager(Body.base_body.of_type(base))
        )
        .join(ranked, ranked.c.id == TextVersion.id)
        .join(Snapshot, TextVersion.snapshot_id == Snapshot.id)
        .join(Body, Snapshot.sha256 == Body.sha256)
        .outerjoin(base, Body.base == base.sha256)
        .where(ranked.c.place == 1)
    )


_LATEST_TEXT_VERSIONS = _latest_text_versions_query()


def latest_text_versions(session: Session, sources: Iterable[Source]) -> dict[int, TextVersion | None]:
    """``latest_text_version`` of each source (by its id; None for one without any), by one query per
    extractor version among them (one for a part of pages without selectors), not one per source."""
    by_extractor: dict[str, list[int]] = {}
    for source in sources:
        by_extractor.setdefault(source_extractor_version(source), []).append(source.id)
    found: dict[int, TextVersion | None] = {}
    for extractor, ids in by_extractor.items():
        found.update(dict.fromkeys(ids))
        params = {"b_sources": ids, "b_extractor": extractor}
        found.update((version.source_id, version) for version in session.scalars(_LATEST_TEXT_VERSIONS, params))
    return found


def _safe_extract(capture: Capture, selectors: Selectors) -> Extracted | None:
    if capture.error_kind or not capture.body:
        return None
    try:
        return extract_document(
            capture.body, content_type=capture.header("Content-Type"), url=capture.final_url, selectors=selectors
        )
    except Exception:
        log.exception("extraction failed for %s", capture.final_url)
        return None


def assess_site_document(capture: Capture, *, max_bytes: int) -> tuple[Extracted | None, Verdict] | None:
    """What ``record_capture`` compares for a site source that is a sitemap or feed: its list of URLs,
    one a line, so that its snapshots and diffs show pages coming and going. A malformed one is a
    failed check (``bad_sitemap``). None for anything else: an HTML entry point is judged as a page
    (main text and the quality gate)."""
    if capture.error_kind is not None or capture.status != 200 or not is_xml_document(capture.body):
        return None
    if capture.truncated:
        return None, Verdict(ok=False, outcome="error", kind="truncated", reason="the sitemap was cut off")
    try:
        document = parse_xml_links(
            ungzip(capture.body, max_bytes=max_bytes), base_url=capture.final_url or capture.requested_url
        )
    except DocumentError as error:
        return None, Verdict(ok=False, outcome="error", kind=error.kind, reason=str(error))
    return Extracted(title=document.kind, text=document.text(), language=None), Verdict(ok=True)


def unrecordable(capture: Capture, error: Exception) -> Capture:
    """The failed capture to record in place of ``capture``, whose recording raised ``error`` (a bug met
    on one page): a check of the same source and time, error kind ``record_failed``, carrying the error
    in one line. No snapshot is kept, so the page is fetched (or imported) in full again next time."""
    reason = f"recording failed: {type(error).__name__}: {one_line(str(error))[:300]}"
    log.error("%s: %s; recorded as a failed check", capture.requested_url, reason)
    log.debug("the recording's traceback", exc_info=error)
    failed = Capture.failed(
        FetchTarget(source_id=capture.source_id, url=capture.requested_url), kind=RECORD_FAILED, error=reason
    )
    return replace(failed, fetched_at=capture.fetched_at, archive_url=capture.archive_url)


def record_capture(
    session: Session, capture: Capture, *, settings: Settings, on_new_version: VersionHook | None = None
) -> CheckResult:
    return record_captures(session, [capture], settings=settings, on_new_version=on_new_version)[0]


def record_captures(
    session: Session,
    captures: Sequence[Capture],
    *,
    settings: Settings,
    on_new_version: VersionHook | None = None,
    on_new_versions: VersionsHook | None = None,
) -> list[CheckResult]:
    """``record_capture`` for several captures in one session, their writes gathered per batch: the
    new snapshots' bodies in one executemany, their snapshots and text versions (and the sources'
    validators) in one flush, the changes of the changed pages (diffed after it) and the checks by one
    multi-row INSERT each (plain rows: ``insert_ids``), the claim profiles and alerts in one more flush,
    and the passage index of the part's first and appended versions in a few statements
    (``index_new_versions``).
    A source with no stored text, no index state and no indication steps (one query for the part's
    captures with a body; none for a part of 304s) is known to have no previous version, so nothing is
    looked up for it. A source met twice starts a new
    part of the batch, so that its second capture finds the first one's version. Results in the order
    of ``captures``. ``on_new_versions``, when given, is called once per part instead of
    ``on_new_version`` per version."""
    record_part = partial(
        _record_part, session, settings=settings, on_new_version=on_new_version, on_new_versions=on_new_versions
    )
    recorded: list[_Recorded] = []
    part: list[Capture] = []
    held: set[int] = set()  # the part's sources
    for capture in captures:
        if capture.source_id in held:
            recorded += record_part(part)
            part, held = [], set()
        part.append(capture)
        held.add(capture.source_id)
    recorded += record_part(part)
    session.flush()
    return [item.result() for item in recorded]


CHECKS = cast(Table, Check.__table__)
CHANGES = cast(Table, Change.__table__)


@dataclass
class _Recorded:
    """A capture of a part as it is recorded: its check's row (every column but the id: the part's
    checks are inserted by one statement, no ORM object made for them), the snapshot and text versions
    it stored, if any, and the ids its check and change get once written."""

    source: Source
    check: dict[str, Any]
    snapshot: Snapshot | None = None
    pair: tuple[TextVersion, TextVersion] | None = None  # (previous, new): a change, diffed once flushed
    check_id: int = 0
    change_id: int | None = None

    def result(self) -> CheckResult:
        source, check = self.source, self.check
        return CheckResult(
            source_id=source.id,
            url=source.url,
            check_id=self.check_id,
            outcome=check["outcome"],
            http_status=check["http_status"],
            snapshot_id=self.snapshot.id if self.snapshot else None,
            change_id=self.change_id,
            error=check["error"],
            follow_up=source.kind == "site" or source.requisites or bool(discovery_info(source)),
        )


def insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows of a table with an integer ``id`` by one statement (a multi-row INSERT ... RETURNING,
    ``rows`` having the same keys); their ids in the order of ``rows``. PostgreSQL: SQLAlchemy's
    ``sort_by_parameter_order``. SQLite numbers the rows of one INSERT in the order of its VALUES, each
    the table's largest id + 1 (no other connection can write meanwhile), while its RETURNING order is
    unspecified: the ids sorted are in the order of ``rows`` (SQLAlchemy would insert them one at a time
    to sort them)."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        return sorted(connection.execute(insert(table).returning(table.c.id), rows).scalars())
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, rows).scalars())


@dataclass
class _Part:
    """What a part of a batch (captures of distinct sources) holds until it is written."""

    fresh: set[int]  # sources with nothing stored yet: no text version, index state or indication step
    bodies: dict[str, bytes]  # new snapshots' bodies by SHA-256, not stored yet
    versions: list[tuple[TextVersion, TextVersion | None]]  # new text versions and their previous ones
    wrote: bool = False  # the transaction has written (bodies): SQLite's writer lock is held
    # The base proposed for each new body (``store_bodies``): the page's previous body (or its base),
    # its bytes at hand (``known``: loaded with the previous version); for a page without one the first
    # new body of its host in this part (``sites``), which is stored standalone.
    bases: dict[str, str] = field(default_factory=dict)
    known: dict[str, bytes] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    # The sources the session held when the part began (``held_sources``); others are read.
    sources: dict[int, Source] = field(default_factory=dict)
    # The newest stored version of each source the part compares (None: none), read for all at once.
    previous: dict[int, TextVersion | None] = field(default_factory=dict)

    def propose_base(self, body: str, previous: TextVersion | None, url: str) -> None:
        if previous is None:  # the host's first new body in the part proposes itself: no base
            self.bases[body] = self.sites.setdefault(urlsplit(url).hostname or "", body)
            return
        stored = previous.snapshot.body
        base = stored if stored.base_body is None else stored.base_body
        if base.base is None:  # standalone (the writer names no other)
            self.bases[body], self.known[base.sha256] = base.sha256, body_bytes(base)

    def store_bodies(self, session: Session) -> None:
        if self.bodies:
            store_bodies(session, self.bodies, self.bases, self.known)
            self.bodies, self.bases, self.known, self.wrote = {}, {}, {}, True


def number_rows(session: Session, rows: Sequence[Base]) -> None:
    """SQLite: give new rows of one table (added, not flushed) their ids — the next ones after the
    table's largest, as SQLite gives them — so that the flush inserts them by one executemany: without
    them the ORM needs each row's generated id back, which it asks SQLite for one INSERT at a time.
    Only for a transaction that has written already (SQLite's one writer lock is held until it ends, so
    no other connection can take those ids), and only when no other new row of the table waits for an
    id from the database. PostgreSQL inserts such rows by one statement anyway."""
    if not rows or session.connection().dialect.name != "sqlite":
        return
    table = cast(Table, type(rows[0]).__table__)
    ours = {id(row) for row in rows}
    if any(type(other) is type(rows[0]) and id(other) not in ours for other in session.new):
        return
    top = session.connection().execute(select(func.max(table.c.id))).scalar() or 0
    for number, row in enumerate(rows, start=top + 1):
        row.id = number  # type: ignore[attr-defined]


def pending_alerts(session: Session) -> list[Alert]:
    """The alerts added to the session and not flushed yet (the analysis hooks' new ones, see
    ``watcher.pipeline.alerts.record_alerts``), in the order they were added: the session's set of new
    objects is unordered, and numbered in its order they would get other ids than the flush gives them
    one INSERT at a time (it inserts in the order of adding, kept by each object's ``insert_order``)."""
    alerts = [row for row in session.new if isinstance(row, Alert)]
    return sorted(alerts, key=lambda alert: inspect(alert).insert_order or 0)


def held_sources(session: Session) -> dict[int, Source]:
    """The sources in the session's identity map, by id (the batch's, loaded together by
    ``watcher.pipeline.run``): a dictionary lookup each, where ``session.get`` costs some 28 Python
    calls per capture and again per next due time."""
    return {row.id: row for row in session.identity_map.values() if isinstance(row, Source)}


def fresh_sources(session: Session, source_ids: Iterable[int]) -> set[int]:
    """Those of the sources that have nothing stored from a capture: no text version, no passage index
    state and no indication step (one query). Their capture's previous version is known to be none and
    their first text is indexed without reading anything back."""
    ids = sorted(set(source_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Source.id).where(
                Source.id.in_(ids),
                ~exists().where(TextVersion.source_id == Source.id),
                ~exists().where(PassageIndexState.source_id == Source.id),
                ~exists().where(IndicationStep.source_id == Source.id),
            )
        )
    )


def _record_part(
    session: Session,
    captures: Sequence[Capture],
    *,
    settings: Settings,
    on_new_version: VersionHook | None,
    on_new_versions: VersionsHook | None,
) -> list[_Recorded]:
    if not captures:
        return []
    # Only a capture with a body to compare looks for a previous version: a part of 304s asks nothing.
    compared = [c for c in captures if c.error_kind is not None or c.status != 304]
    part = _Part(
        fresh=fresh_sources(session, (c.source_id for c in compared)),
        bodies={},
        versions=[],
        sources=held_sources(session),
    )
    # Their previous versions, in one query: an archived capture is compared with the version before
    # its own time (looked up alone, in ``_record``), and a fresh source has none.
    current = {c.source_id for c in compared if c.archive_url is None and c.source_id not in part.fresh}
    if current:
        with session.no_autoflush:
            sources = (part.sources.get(i) or session.get(Source, i) for i in sorted(current))
            part.previous = latest_text_versions(session, [source for source in sources if source is not None])
    recorded = [_record(session, capture, part, settings=settings) for capture in captures]
    part.store_bodies(session)
    if part.wrote:
        pending = [version for version, _previous in part.versions if version.id is None]
        number_rows(session, [version.snapshot for version in pending])
        number_rows(session, pending)
    session.flush()  # the new snapshots and text versions, and the sources' validators
    changed = [(item, item.pair) for item in recorded if item.pair is not None]
    change_rows = [_change_row(old, new, settings=settings) for _item, (old, new) in changed]
    for (item, _pair), change_id in zip(changed, insert_ids(session, CHANGES, change_rows), strict=True):
        item.change_id = change_id
    for item in recorded:
        item.check["snapshot_id"] = item.snapshot.id if item.snapshot is not None else None
    for item, check_id in zip(recorded, insert_ids(session, CHECKS, [item.check for item in recorded]), strict=True):
        item.check_id = check_id
    # The checks' INSERT has taken SQLite's writer lock: the profiles and alerts can be numbered.
    if on_new_versions is not None:
        profiles = on_new_versions(session, part.versions) if part.versions else []
    else:
        profiles = [
            on_new_version(session, version, previous) if on_new_version is not None else None
            for version, previous in part.versions
        ]
    stored = [profile for profile in profiles if profile is not None]
    number_rows(session, [profile for profile in stored if profile in session.new])
    number_rows(session, pending_alerts(session))
    session.flush()  # the claim profiles and the alerts, one INSERT each
    versions = [(version, profile) for (version, _previous), profile in zip(part.versions, profiles, strict=True)]
    index_new_versions(session, versions, fresh=part.fresh)
    return recorded


def _record(session: Session, capture: Capture, part: _Part, *, settings: Settings) -> _Recorded:
    # Without an autoflush: a source the session has not loaded is read from the database, and the
    # part's snapshots added so far must not go before their bodies (held in ``part``, stored later).
    source = part.sources.get(capture.source_id)
    if source is None:
        with session.no_autoflush:
            source = session.get(Source, capture.source_id)
    if source is None:
        raise LookupError(f"capture for unknown source {capture.source_id}")
    check: dict[str, Any] = {
        "source_id": source.id,
        "checked_at": capture.fetched_at,
        "duration_ms": capture.duration_ms,
        "outcome": ERROR,
        "http_status": capture.status,
        "final_url": capture.final_url or None,
        "error_kind": None,
        "error": None,
        "body_sha256": sha256_hex(capture.body) if capture.body else None,
        "body_size": len(capture.body) if capture.body else None,
        "snapshot_id": None,
        "archive_url": capture.archive_url,
        "rendered": capture.rendered,
        "hint": None,
        "extraction_doubt": None,
    }
    recorded = _Recorded(source, check)

    if capture.error_kind is None and capture.status == 304:
        check["outcome"] = NOT_MODIFIED
    else:
        # An archived capture may be older than stored history (a backfill of a source watched
        # already): it is compared with the version before it, the later history left as it stands.
        previous = None
        if source.id in part.previous:  # read with the part's others
            previous = part.previous[source.id]
        elif source.id not in part.fresh:
            # Without an autoflush: the part's sources are distinct, so its pending snapshots and text
            # versions (flushed together once their bodies are stored) cannot be this source's.
            with session.no_autoflush:
                previous = latest_text_version(
                    session, source, before=capture.fetched_at if capture.archive_url else None
                )
        if previous is not None and check["body_sha256"] == previous.snapshot.sha256 and capture.status == 200:
            check["outcome"] = UNCHANGED  # byte-identical to the last snapshot: nothing to extract
            check["hint"] = _hint(capture, previous.text)
            check["extraction_doubt"] = previous.extraction_doubt
        else:
            site_document = None
            if source.kind == "site":  # a sitemap or feed compares as its list of URLs
                site_document = assess_site_document(capture, max_bytes=settings.max_body_bytes)
            if site_document is not None:
                extracted, verdict = site_document
            else:
                extracted, verdict = _extract_page(capture, source)
                check["hint"] = _hint(capture, extracted.text if extracted else "")
                check["extraction_doubt"] = extracted.doubt if extracted else None
            if not verdict.ok or extracted is None:
                check["outcome"] = verdict.outcome or ERROR
                check["error_kind"] = verdict.kind or "empty"
                check["error"] = verdict.reason or "no text could be extracted"
            else:
                text_sha = sha256_hex(extracted.text.encode("utf-8"))
                if previous is not None and previous.text_sha256 == text_sha:
                    check["outcome"] = UNCHANGED
                else:
                    snapshot, version = _store_snapshot(
                        session, source, capture, extracted, text_sha, part, check["body_sha256"]
                    )
                    check["outcome"] = CHANGED
                    part.propose_base(snapshot.sha256, previous, source.url)
                    recorded.snapshot = snapshot
                    if previous is not None:  # diffed once the part is flushed (the change names both ids)
                        recorded.pair = (previous, version)
                    part.versions.append((version, previous))
        if check["outcome"] in (CHANGED, UNCHANGED) and capture.archive_url is None:
            # The validators of an archived response are the archive's, not the site's.
            source.etag = capture.header("ETag")
            source.last_modified = capture.header("Last-Modified")
    # The check is not inserted here: ``_record_part`` inserts the part's checks by one statement once
    # their snapshots are flushed (a check names its snapshot's id).
    return recorded


def _extract_page(capture: Capture, source: Source) -> tuple[Extracted | None, Verdict]:
    """The main text of a page's capture (with the source's selectors) and the quality gate's verdict."""
    try:
        selectors = extraction_selectors(source)
    except InputError as error:  # selectors damaged in the database since they were validated
        return None, Verdict(ok=False, outcome=ERROR, kind="bad_selectors", reason=str(error))
    extracted = _safe_extract(capture, selectors)
    return extracted, assess(capture, extracted)


def _hint(capture: Capture, text: str) -> str | None:
    """The empty-shell hint (``watcher.shell``) for a static HTML capture; rendered ones need none."""
    if capture.rendered or capture.status != 200 or capture.error_kind or not capture.body:
        return None
    content_type = (capture.header("Content-Type") or "text/html").lower()
    return shell_hint(capture.body, text) if "html" in content_type else None


def _store_snapshot(
    session: Session,
    source: Source,
    capture: Capture,
    extracted: Extracted,
    text_sha: str,
    part: _Part,
    check_sha256: str | None = None,
) -> tuple[Snapshot, TextVersion]:
    """A new snapshot and its text version, added to the session (flushed with the rest of the part);
    its body is held in ``part`` until the part's bodies are stored."""
    content_type = capture.header("Content-Type")
    sha256 = check_sha256 or sha256_hex(capture.body)
    part.bodies[sha256] = capture.body
    snapshot = Snapshot(
        source_id=source.id,
        fetched_at=capture.fetched_at,
        requested_url=capture.requested_url,
        final_url=capture.final_url,
        http_status=capture.status or 0,
        headers=capture.headers,
        content_type=content_type[:200] if content_type else None,
        encoding=extracted_encoding(capture),
        sha256=sha256,
        size=len(capture.body),
        archive_url=capture.archive_url,
    )
    session.add(snapshot)
    # Linked by the relationship, so that one flush inserts both (the snapshot first, for its id).
    version = TextVersion(
        snapshot=snapshot,
        source_id=source.id,
        extractor_version=source_extractor_version(source),
        title=extracted.title,
        language=extracted.language,
        text=extracted.text,
        text_sha256=text_sha,
        extraction_doubt=extracted.doubt,
    )
    session.add(version)
    if capture.screenshot:
        part.store_bodies(session)
        session.flush()  # the screenshot refers to the snapshot by id
        session.add(
            Screenshot(
                snapshot_id=snapshot.id,
                source_id=source.id,
                taken_at=capture.fetched_at,
                media_type="image/png",
                sha256=sha256_hex(capture.screenshot),
                size=len(capture.screenshot),
                data=capture.screenshot,
            )
        )
    return snapshot, version


def extracted_encoding(capture: Capture) -> str | None:
    try:
        return decode_body(capture.body, content_type=capture.header("Content-Type")).encoding
    except Exception:
        return None


def _change_row(old: TextVersion, new: TextVersion, *, settings: Settings) -> dict[str, Any]:
    """The row of the change from ``old`` to ``new`` (both flushed): their diff (``created_at`` is the
    column's default, given by the INSERT)."""
    diff = diff_texts(old.text, new.text, timeout=settings.diff_timeout)
    return {
        "source_id": new.source_id,
        "old_version_id": old.id,
        "new_version_id": new.id,
        "inserted_chars": diff.inserted_chars,
        "deleted_chars": diff.deleted_chars,
        "ops": compact_ops(diff.ops),
        "diff_seconds": diff.seconds,
    }


def compact_ops(ops: list[tuple[int, str]]) -> list[list[int | str]]:
    """Stored diff ops: inserted and deleted text in full, equal runs as their length only — both
    versions' texts are stored already, so repeating the unchanged text would double the cost."""
    return [[op, len(text)] if op == 0 else [op, text] for op, text in ops]
