"""Full-text search over every stored text version, Japanese without spaces included.

Matching is case-insensitive substring matching, the same on both backends:

* SQLite: the FTS5 trigram table of migration 0004, queried with the term as one quoted phrase
  (a phrase of trigrams is a substring). Terms shorter than three characters have no trigram, so
  they (and databases migrated without FTS5) use ``LIKE`` with escaped wildcards — a scan.
* PostgreSQL: ``LIKE '%term%'`` (escaped wildcards) when case cannot matter, else a literal
  case-insensitive regex (``~* '***=term'``), both served by the pg_trgm GIN index.

Answers are per source: when the text was first and last seen (capture dates of the snapshots whose
text contains it), in how many versions, whether the current version still has it and, if not,
when it disappeared, with an excerpt of the last matching version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session, aliased

from watcher.errors import InputError
from watcher.models import Clinic, Snapshot, Source, TextVersion, UTCDateTime
from watcher.queries.dates import check_range
from watcher.queries.paging import MAX_LIMIT
from watcher.search_index import FTS_TABLE, has_fts_table

MAX_TERM_CHARS = 200
MIN_TRIGRAM_CHARS = 3
EXCERPT_CHARS = 60


def check_term(term: str) -> str:
    cleaned = term.strip()
    if not cleaned:
        raise InputError("the search text is empty")
    if len(cleaned) > MAX_TERM_CHARS:
        raise InputError(f"the search text is longer than {MAX_TERM_CHARS} characters")
    if any(ord(ch) < 32 and ch not in "\t" for ch in cleaned):
        raise InputError("the search text contains control characters")
    return cleaned


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards and the escape character escaped (escape: backslash)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(term: str) -> str:
    """The term as one FTS5 phrase: operators and quotes inside it lose their meaning."""
    return '"' + term.replace('"', '""') + '"'


def _match_sql(session: Session, term: str) -> tuple[str, dict[str, Any], str]:
    """SQL matching text versions ``tv``, its parameters, and the method (for logs and tests)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if term.lower() == term.upper():
            # Nothing to fold (Japanese): LIKE gives the same answer at the lowest recheck cost.
            return "tv.text LIKE :pattern", {"pattern": like_pattern(term)}, "pg_trgm"
        # Case-insensitive: a literal ('***=') case-insensitive regex, which pg_trgm indexes like ILIKE
        # but rechecks about twice as fast (ILIKE lower-cases every candidate text first).
        return "tv.text ~* :regex", {"regex": "***=" + term}, "pg_trgm"
    if len(term) >= MIN_TRIGRAM_CHARS and has_fts_table(connection):
        return (
            f"tv.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :phrase)",
            {"phrase": fts_phrase(term)},
            "fts5",
        )
    return "tv.text LIKE :pattern ESCAPE '\\'", {"pattern": like_pattern(term)}, "like"


def search_method(session: Session, term: str) -> str:
    return _match_sql(session, check_term(term))[2]


def search(
    session: Session,
    term: str,
    *,
    clinic_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    term = check_term(term)
    check_range(since, until)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}")
    match, params, _method = _match_sql(session, term)
    filters = [match]
    if clinic_id is not None:
        filters.append("tv.source_id IN (SELECT id FROM sources WHERE clinic_id = :clinic_id)")
        params["clinic_id"] = clinic_id
    if since is not None:
        filters.append("s.fetched_at >= :since")
        params["since"] = since
    if until is not None:
        filters.append("s.fetched_at <= :until")
        params["until"] = until
    postgres = session.connection().dialect.name == "postgresql"
    if postgres:
        # First and last matching snapshot per source, in capture order (ids break ties).
        ends = (
            "(array_agg(s.id ORDER BY s.fetched_at, s.id))[1] AS first_id, "
            "(array_agg(s.id ORDER BY s.fetched_at DESC, s.id DESC))[1] AS last_id"
        )
    else:
        # SQLite stores these timestamps as ISO text, so text order is time order.
        ends = (
            "min(s.fetched_at || '#' || printf('%012d', s.id)) AS first_id, "
            "max(s.fetched_at || '#' || printf('%012d', s.id)) AS last_id"
        )
    sql = (
        f"SELECT tv.source_id, count(DISTINCT s.id) AS versions, {ends} "
        f"FROM text_versions tv JOIN snapshots s ON s.id = tv.snapshot_id "
        f"WHERE {' AND '.join(filters)} GROUP BY tv.source_id "
        f"ORDER BY min(s.fetched_at), tv.source_id LIMIT :limit"
    )
    params["limit"] = limit
    statement = text(sql).bindparams(
        *(bindparam(name, type_=UTCDateTime()) for name in ("since", "until") if name in params)
    )
    with _index_scans_only(session, postgres and len(term) >= MIN_TRIGRAM_CHARS):
        groups = [
            (source_id, int(versions), _snapshot_id(first), _snapshot_id(last))
            for source_id, versions, first, last in session.execute(statement, params).all()
        ]
    return _describe(session, term, groups, until=until)


@contextmanager
def _index_scans_only(session: Session, enabled: bool) -> Iterator[None]:
    """PostgreSQL estimates a common term's selectivity high and picks a sequential scan, which then
    runs the match on every text; the trigram index only rechecks candidates and is several times
    faster. Steer this one statement to it (restoring the setting, within the transaction)."""
    if not enabled:
        yield
        return
    previous = session.execute(text("SELECT current_setting('enable_seqscan')")).scalar_one()
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :value, true)"), {"value": previous})


def _snapshot_id(value: Any) -> int:
    return int(value) if isinstance(value, int) else int(str(value).rsplit("#", 1)[1])


def _describe(
    session: Session, term: str, groups: list[tuple[int, int, int, int]], *, until: datetime | None
) -> list[dict[str, Any]]:
    """The answer rows, with a fixed number of queries whatever the number of pages."""
    if not groups:
        return []
    sources = {
        sid: (url, clinic)
        for sid, url, clinic in session.execute(
            select(Source.id, Source.url, Clinic.name)
            .outerjoin(Clinic, Source.clinic_id == Clinic.id)
            .where(Source.id.in_([g[0] for g in groups]))
        )
    }
    ends = {g[2] for g in groups} | {g[3] for g in groups}
    fetched = dict(session.execute(select(Snapshot.id, Snapshot.fetched_at).where(Snapshot.id.in_(ends))).all())
    texts: dict[int, str] = {}
    for snapshot_id, body in session.execute(
        select(TextVersion.snapshot_id, TextVersion.text)
        .where(TextVersion.snapshot_id.in_([g[3] for g in groups]))
        .order_by(TextVersion.id)
    ):
        texts[snapshot_id] = body  # the newest text version of the snapshot wins
    # Per last matching snapshot, the source's next snapshot (which no longer has the term).
    last = aliased(Snapshot)
    following_id = (
        select(Snapshot.id)
        .where(Snapshot.source_id == last.source_id, Snapshot.fetched_at >= last.fetched_at, Snapshot.id != last.id)
        .order_by(Snapshot.fetched_at, Snapshot.id)
        .limit(1)
        .correlate(last)
        .scalar_subquery()
    )
    nexts: dict[int, int | None] = dict(
        session.execute(select(last.id, following_id).where(last.id.in_([g[3] for g in groups]))).all()
    )
    next_at = dict(
        session.execute(
            select(Snapshot.id, Snapshot.fetched_at).where(
                Snapshot.id.in_([n for n in nexts.values() if n is not None])
            )
        ).all()
    )
    rows = []
    for source_id, versions, first_id, last_id in groups:
        url, clinic = sources[source_id]
        following = nexts.get(last_id)
        # The next snapshot lacks the term — unless it lies beyond ``until``, where we did not look.
        unknown = following is not None and until is not None and next_at[following] > until
        gone = following if following is not None and not unknown else None
        rows.append(
            {
                "source_id": source_id,
                "source_url": url,
                "clinic": clinic,
                "first_seen": fetched[first_id].isoformat(),
                "last_seen": fetched[last_id].isoformat(),
                "versions": versions,
                "first_snapshot_id": first_id,
                "last_snapshot_id": last_id,
                "present_now": None if unknown else following is None,
                "gone_at": next_at[gone].isoformat() if gone is not None else None,
                "gone_snapshot_id": gone,
                "excerpt": excerpt(texts.get(last_id, ""), term),
            }
        )
    return rows


def excerpt(body: str, term: str, *, width: int = EXCERPT_CHARS) -> str:
    """The text around the first match, on one line, with ellipses where it was cut."""
    found = re.search(re.escape(term), body, re.IGNORECASE)
    if found is None:
        return body[: 2 * width].replace("\n", " / ")
    start, end = max(0, found.start() - width), min(len(body), found.end() + width)
    middle = body[start:end].replace("\n", " / ")
    return ("…" if start > 0 else "") + middle + ("…" if end < len(body) else "")
