"""Full-text search over the distinct-passage index (``watcher.pipeline.passages``), Japanese
without spaces included: each distinct line of text is stored once, in a block of lines written
together, with, per source, the runs of versions that contain it, so a search reads blocks and runs,
never every version's text.

Matching is case-insensitive substring matching within a line (a term cannot span lines: it
cannot contain a line break), the same on both backends:

* candidate blocks: one or two characters, the blocks whose lower-cased one- and two-character terms
  hold the term (posting lists per block, no extension: PostgreSQL's GIN expression index over
  ``watcher_short_terms(text)``, an immutable SQL function of the block, lower-cased in SQL on both
  sides: ``@> ARRAY[lower(term)]``; SQLite's contentless FTS5 table ``passage_block_terms_fts``, the
  term's token, ``term_token``); three and more, the blocks holding every pair of adjacent characters of
  the term (its two-character terms; its single characters when it has none, as ``a b``);
* then the blocks' text decides which lines hold the term: PostgreSQL splits the block in SQL and
  checks each line with ``LIKE '%term%'`` when case cannot matter, else the lower-cased term in the
  lower-cased line; SQLite decompresses the block and checks the lower-cased term in each lower-cased
  line (``watcher_block_passages``, a Python function of the connection). A line that contains the term
  is in a block that holds all its terms, so nothing is missed.

Answers are per source: when the text was first and last seen (capture dates of the snapshots whose
text contains it), in how many versions, whether the current version still has it and, if not,
when it disappeared, with an excerpt of the last matching version. The runs holding the matching
passages give the candidate sources in SQL (ordered by first appearance); the answer rows are then
computed exactly from those intervals and the sources' chains of snapshots. With ``since``, a page whose
matching stretch began before it counts as first seen at ``since`` for choosing which pages make the
``limit`` (its row then shows its real first version inside the range).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from watcher.errors import InputError
from watcher.models import (
    BLOCK_SLOTS,
    Clinic,
    CompactUTCDateTime,
    SecondUTCDateTime,
    Snapshot,
    Source,
    TextVersion,
    block_text,
)
from watcher.pipeline.passages import index_incomplete, short_terms
from watcher.queries.dates import check_range
from watcher.queries.paging import MAX_LIMIT
from watcher.search_index import BLOCK_TERMS_TABLE, TERMS_FUNCTION, term_token

log = logging.getLogger(__name__)

MAX_TERM_CHARS = 200
MIN_CHECKED_CHARS = 3  # from three characters on, a search checks the text of the passages it finds
BLOCK_FUNCTION = "watcher_block_passages"  # SQLite: the passages of a block that hold a term (_block_passages)
MEMBERS = "run_passages m"  # a passage's intervals by its key: page and first capture time (m: a membership)
RUNS_OF_PASSAGES = f"{MEMBERS} JOIN passage_runs o ON o.id = m.run_id"  # and their runs (o: a run)
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


def pair_terms(lowered: str) -> set[str]:
    """The terms a passage holding this (lower-cased) text holds: its two-character terms, or its
    single characters when it has no two non-space characters side by side."""
    terms = {term for term in short_terms(lowered) if len(term) == 2}
    return terms or short_terms(lowered)


def _block_passages(block_id: int | None, data: bytes | str | None, lowered: str | None) -> str:
    """SQLite: the ids of a block's passages that hold a lower-cased term, case-insensitively, as a JSON
    array (a Python function of the connection: the block's text is compressed)."""
    if block_id is None or data is None or not lowered:
        return "[]"
    joined = block_text(data).lower()  # lower() keeps the line breaks where they are
    if lowered not in joined:
        return "[]"
    base = block_id * BLOCK_SLOTS
    return json.dumps([base + slot for slot, line in enumerate(joined.split("\n")) if lowered in line])


def _register_block_passages(session: Session) -> None:
    """SQLite: the text check of searches, on this connection."""
    driver = session.connection().connection.driver_connection
    driver.create_function(BLOCK_FUNCTION, 3, _block_passages, deterministic=True)  # type: ignore[union-attr]


def _passages_sql(session: Session, term: str) -> tuple[str, dict[str, Any], str]:
    """SQL selecting the ids of the passages that contain the term, its parameters, and the method
    (for logs, tests and the benchmark): the blocks whose posting lists hold the term's terms (the term
    itself when it has one or two characters, else its pairs), then the lines of those blocks that hold
    the term."""
    postgres = session.connection().dialect.name == "postgresql"
    lowered = term.lower()
    short = len(lowered) < MIN_CHECKED_CHARS
    method = "terms" if short else "pairs"
    if postgres:
        terms_of = TERMS_FUNCTION
        if short:
            terms = f"{terms_of}(b.text) @> ARRAY[lower(CAST(:term AS text))]"
        else:
            # The term's terms as the index folds them (lower() in SQL): its pairs, or its characters.
            size = 2 if any(len(term) == 2 for term in pair_terms(lowered)) else 1
            terms = (
                f"{terms_of}(b.text) @> ARRAY(SELECT t FROM unnest({terms_of}(CAST(:term AS text))) AS t "
                f"WHERE char_length(t) = {size})"
            )
        if term.lower() == term.upper():
            # Nothing to fold (Japanese): LIKE gives the same answer at the lowest cost.
            check, params = "{} LIKE :pattern", {"term": term, "pattern": like_pattern(term)}
        else:
            # Case-insensitive, folded as the terms are (a case-insensitive regex misses titlecase
            # letters: 'ǅ' !~* 'ǅ').
            check, params = "strpos(lower({}), lower(CAST(:term AS text))) > 0", {"term": term}
        sql = (
            f"SELECT CAST(b.id AS bigint) * {BLOCK_SLOTS} + s.n - 1 FROM passage_blocks b "
            "CROSS JOIN LATERAL unnest(string_to_array(b.text, E'\\n')) WITH ORDINALITY AS s(line, n) "
            f"WHERE {terms} AND {check.format('b.text')} AND {check.format('s.line')}"
        )
        return sql, params, method
    _register_block_passages(session)
    tokens = term_token(lowered) if short else " ".join(sorted(term_token(pair) for pair in pair_terms(lowered)))
    sql = (
        f"SELECT p.value FROM passage_blocks b, json_each({BLOCK_FUNCTION}(b.id, b.text, :lowered)) AS p "
        f"WHERE b.id IN (SELECT rowid FROM {BLOCK_TERMS_TABLE} WHERE {BLOCK_TERMS_TABLE} MATCH :tokens)"
    )
    return sql, {"tokens": tokens, "lowered": lowered}, method


def search_method(session: Session, term: str) -> str:
    return _passages_sql(session, check_term(term))[2]


def matching_passages(session: Session, term: str) -> set[int]:
    """The ids of the passages that contain the term, as a search looks them up."""
    sql, params, _method = _passages_sql(session, check_term(term))
    return set(session.execute(text(sql), params).scalars())


@dataclass(frozen=True)
class _Interval:
    source_id: int
    first_snapshot_id: int
    last_snapshot_id: int


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
    passages, params, _method = _passages_sql(session, term)
    filters = [f"m.passage_id IN ({passages})"]
    first = "m.first_seen"
    if clinic_id is not None:
        filters.append("m.source_id IN (SELECT id FROM sources WHERE clinic_id = :clinic_id)")
        params["clinic_id"] = clinic_id
    # A membership's first capture time is floored to the second (``RunPassage``): compared with a bound
    # floored too, it admits every page whose stretch begins in range, and ``_describe`` drops those with
    # no version inside it.
    if since is not None:
        filters.append("o.last_seen >= :since")
        first = "CASE WHEN m.first_seen < :since_s THEN :since_s ELSE m.first_seen END"
        params["since"] = params["since_s"] = since
    if until is not None:
        filters.append("m.first_seen <= :until_s")
        params["until_s"] = until
    where = " AND ".join(filters)
    # Candidate sources in order of first appearance (in the range); a page of them at a time, as an
    # interval that spans the range may have no version inside it (then the source drops out).
    candidates = _with_dates(
        # The memberships alone (their key holds page and first capture time) unless a run's last capture
        # time is needed (``since``).
        f"SELECT m.source_id FROM {RUNS_OF_PASSAGES if since is not None else MEMBERS} WHERE {where} "
        f"GROUP BY m.source_id ORDER BY min({first}), m.source_id LIMIT :limit OFFSET :offset"
    )
    intervals = _with_dates(
        f"SELECT DISTINCT o.source_id, o.first_snapshot_id, o.last_snapshot_id FROM {RUNS_OF_PASSAGES} "
        f"WHERE {where} AND m.source_id IN :sources"
    ).bindparams(bindparam("sources", expanding=True))
    postgres = session.connection().dialect.name == "postgresql"
    rows: list[dict[str, Any]] = []
    offset = 0
    with _index_scans_only(session, postgres):
        while len(rows) < limit:
            page = list(session.execute(candidates, {**params, "limit": limit, "offset": offset}).scalars())
            if not page:
                break
            offset += len(page)
            found = [_Interval(*row) for row in session.execute(intervals, {**params, "sources": page})]
            rows += _describe(session, term, page, found, since=since, until=until)
            if len(page) < limit:
                break
    if index_incomplete(session):
        log.warning("pages stored before the search index are not searched until `watcher reindex` has indexed them")
    return sorted(rows[:limit], key=lambda row: (row["first_seen"], row["source_id"]))


def _with_dates(sql: str) -> TextClause:
    """A search's statement with its date parameters typed as the columns they are compared with: a
    run's (to the microsecond) or a membership's (``_s``: to the second)."""
    types = {"since": CompactUTCDateTime(), "since_s": SecondUTCDateTime(), "until_s": SecondUTCDateTime()}
    named = [bindparam(name, type_=kind) for name, kind in types.items() if re.search(rf":{name}\b", sql)]
    return text(sql).bindparams(*named)


@contextmanager
def _index_scans_only(session: Session, enabled: bool) -> Iterator[None]:
    """PostgreSQL estimates a common term's selectivity high and picks a sequential scan, which then
    computes every passage's terms; the term index is several times faster. Steer this one statement
    to it (restoring the setting, within the transaction)."""
    if not enabled:
        yield
        return
    previous = session.execute(text("SELECT current_setting('enable_seqscan')")).scalar_one()
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :value, true)"), {"value": previous})


def _chains(session: Session, source_ids: list[int]) -> dict[int, list[tuple[int, datetime]]]:
    """Each source's snapshots (id, capture time), in capture order (every snapshot has its text)."""
    chains: dict[int, list[tuple[int, datetime]]] = {sid: [] for sid in source_ids}
    for source_id, snapshot_id, fetched_at in session.execute(
        select(Snapshot.source_id, Snapshot.id, Snapshot.fetched_at)
        .where(Snapshot.source_id.in_(source_ids))
        .order_by(Snapshot.source_id, Snapshot.fetched_at, Snapshot.id)
    ):
        chains[source_id].append((snapshot_id, fetched_at))
    return chains


def _matched(
    chain: list[tuple[int, datetime]],
    intervals: list[_Interval],
    since: datetime | None,
    until: datetime | None,
) -> list[int]:
    """Positions in the chain of the versions inside the range that some interval covers."""
    position = {snapshot_id: i for i, (snapshot_id, _at) in enumerate(chain)}
    covered: set[int] = set()
    for interval in intervals:
        first, last = position.get(interval.first_snapshot_id), position.get(interval.last_snapshot_id)
        if first is not None and last is not None:  # else its snapshots were deleted since
            covered.update(range(first, last + 1))
    return sorted(
        i for i in covered if (since is None or chain[i][1] >= since) and (until is None or chain[i][1] <= until)
    )


def _describe(
    session: Session,
    term: str,
    source_ids: list[int],
    intervals: list[_Interval],
    *,
    since: datetime | None,
    until: datetime | None,
) -> list[dict[str, Any]]:
    """The answer rows of these sources, with a fixed number of queries whatever their number."""
    sources = {
        sid: (url, clinic)
        for sid, url, clinic in session.execute(
            select(Source.id, Source.url, Clinic.name)
            .outerjoin(Clinic, Source.clinic_id == Clinic.id)
            .where(Source.id.in_(source_ids))
        )
    }
    chains = _chains(session, source_ids)
    by_source: dict[int, list[_Interval]] = {}
    for interval in intervals:
        by_source.setdefault(interval.source_id, []).append(interval)
    found: list[tuple[int, list[tuple[int, datetime]], list[int]]] = []
    for source_id in source_ids:
        matched = _matched(chains[source_id], by_source.get(source_id, []), since, until)
        if matched:
            found.append((source_id, chains[source_id], matched))
    texts: dict[int, str] = {}
    for snapshot_id, body in session.execute(
        select(TextVersion.snapshot_id, TextVersion.text)
        .where(TextVersion.snapshot_id.in_([chain[matched[-1]][0] for _s, chain, matched in found]))
        .order_by(TextVersion.id)
    ):
        texts[snapshot_id] = body  # the newest text version of the snapshot wins
    rows = []
    for source_id, chain, matched in found:
        url, clinic = sources[source_id]
        (first_id, first_at), (last_id, last_at) = chain[matched[0]], chain[matched[-1]]
        following = chain[matched[-1] + 1] if matched[-1] + 1 < len(chain) else None
        # The next snapshot lacks the term — unless it lies beyond ``until``, where we did not look.
        unknown = following is not None and until is not None and following[1] > until
        gone = following if following is not None and not unknown else None
        rows.append(
            {
                "source_id": source_id,
                "source_url": url,
                "clinic": clinic,
                "first_seen": first_at.isoformat(),
                "last_seen": last_at.isoformat(),
                "versions": len(matched),
                "first_snapshot_id": first_id,
                "last_snapshot_id": last_id,
                "present_now": None if unknown else following is None,
                "gone_at": gone[1].isoformat() if gone is not None else None,
                "gone_snapshot_id": gone[0] if gone is not None else None,
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
