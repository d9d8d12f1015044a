"""The distinct-passage index (the write path's last step): each distinct line of extracted text —
a paragraph, heading, list item or table row, as the extractor writes them one a line — is stored
once (``passages``, found by a 64-bit key from its SHA-256: ``passage_ids``), with its one- and
two-character terms as posting lists (PostgreSQL: a GIN expression index over
``watcher_short_terms(text)``, stored nowhere else; SQLite: the contentless FTS5 table
``passage_terms_fts``, one document per passage, rowid = passage id, whose tokens are its terms in hex —
``term_token``), and per source the intervals of consecutive versions that contain it
(``passage_occurrences``: first and last snapshot showing it, how many versions, the snapshot that
dropped it).

Lines rather than sentences: the extractor already cuts the text into lines, a search term never
spans two lines (it cannot contain a line break), so a line is the largest unit that loses no match;
sentences would need a splitter for Japanese and English and would lose matches across their ends.

A source's *chain* is its snapshots with text in capture order (fetched_at, then id), each read in its
newest text version. ``index_new_versions`` runs for the new text versions of each part of a recorded
batch (``record``): a first version of a source with nothing stored is a chain of one; a version
appended at the end of the chain updates the open intervals (closing those whose passage is gone,
extending those still there, opening new ones); both kinds are written together for the part.
Anything else (an archived capture older than the stored history, a re-extraction) rebuilds that
source's intervals from its chain. ``reindex`` rebuilds
the sources whose recorded state (``passage_index_state``) is stale, a batch at a time: resumable and
idempotent. Both produce the same rows (``chain_intervals``; the append is its step, ``advance``,
in SQL; ``claim_steps.append_steps`` adds the new versions' indication steps).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from watcher.models import (
    ClaimProfileRecord,
    Passage,
    PassageIndexState,
    PassageOccurrence,
    Snapshot,
    Source,
    TextVersion,
)
from watcher.pipeline.claim_steps import CHUNK, STEPS, append_steps, rebuild_steps, steps_of
from watcher.search_index import TERMS_TABLE, TOKEN_PREFIX

# Core statements with many parameter sets (compiled once, not per page; no ORM bulk machinery)
PASSAGES = cast(sa.Table, Passage.__table__)
OCCURRENCES = cast(sa.Table, PassageOccurrence.__table__)
STATES = cast(sa.Table, PassageIndexState.__table__)


def passage_lines(text: str) -> list[str]:
    """The distinct non-empty lines of a text, stripped, in order of first appearance."""
    return list(dict.fromkeys(line.strip() for line in text.split("\n") if line.strip()))


KEY_SPAN = 1 << 64  # keys are signed 64-bit integers: the probe after the largest wraps to the smallest


def passage_key(line: str) -> int:
    """Where a line is stored first: the first 8 bytes of its SHA-256 as a signed integer. Another line
    with the same 8 bytes (a chance of about n²/2^65 among n lines: 3 in a million for 10^7 lines) takes
    the next free key (``passage_ids``), so the key is compact (8 bytes, not 64 hex characters) and
    never wrong: a line is found by its key and its text."""
    return int.from_bytes(hashlib.sha256(line.encode("utf-8")).digest()[:8], "big", signed=True)


def next_key(key: int) -> int:
    return (key + KEY_SPAN // 2 + 1) % KEY_SPAN - KEY_SPAN // 2


def short_terms(line: str) -> set[str]:
    """Lower-cased one- and two-character substrings without whitespace: what searches shorter than a
    trigram look up (a search term is stripped, so a term with whitespace at an end never comes)."""
    lowered = line.lower()
    terms = {ch for ch in lowered if not ch.isspace()}
    terms.update(a + b for a, b in itertools.pairwise(lowered) if not (a.isspace() or b.isspace()))
    return terms


_CHAR_HEX: dict[str, str] = {}  # a character's UTF-8 in hex ("" for whitespace): term_document's cache


def term_document(line: str) -> str:
    """The SQLite term table's document of a passage: its terms' tokens (``term_token`` of each of
    ``short_terms``), space-separated in the terms' order. Built from each character's UTF-8 in hex,
    cached: a pair's token is its characters' hex run together, and hex of UTF-8 sorts as the terms do
    (UTF-8 keeps code point order byte by byte), so no term is encoded nor compared as text."""
    lowered = line.lower()
    try:
        hexes = list(map(_CHAR_HEX.__getitem__, lowered))
    except KeyError:
        for ch in set(lowered).difference(_CHAR_HEX):
            _CHAR_HEX[ch] = "" if ch.isspace() else ch.encode("utf-8").hex()
        hexes = list(map(_CHAR_HEX.__getitem__, lowered))
    # Each pair's hex run together, at C speed: a pair with whitespace on one side gives the other
    # character's token (already there), on both sides "" (discarded), as if it were left out.
    tokens = {*hexes, *map(operator.add, hexes, hexes[1:])}
    tokens.discard("")
    return TOKEN_PREFIX + f" {TOKEN_PREFIX}".join(sorted(tokens)) if tokens else ""


def store_terms(session: Session, texts: dict[int, str]) -> None:
    """Add new passages (text by id) to SQLite's term table (PostgreSQL's expression index follows
    the rows by itself). The table is contentless: a passage's entry is never removed, nor need be,
    since passages are immutable and never deleted by the application (``clear_terms`` for tests)."""
    if texts and session.connection().dialect.name == "sqlite":
        # The driver's executemany of plain tuples: a Core statement would build and process a
        # parameter dictionary per passage in Python, about as costly as the term document itself.
        session.connection().exec_driver_sql(
            f"INSERT INTO {TERMS_TABLE}(rowid, terms) VALUES (?, ?)",
            [(pid, term_document(line)) for pid, line in texts.items()],
        )


def clear_terms(session: Session) -> None:
    """Empty SQLite's term table, before deleting every passage (it cannot follow single deletions)."""
    if session.connection().dialect.name == "sqlite":
        session.execute(sa.text(f"INSERT INTO {TERMS_TABLE}({TERMS_TABLE}) VALUES ('delete-all')"))


@dataclass
class Interval:
    """Consecutive versions of one source that contain one passage (``line``, its text)."""

    line: str
    first_snapshot_id: int
    first_seen: datetime
    last_snapshot_id: int
    last_seen: datetime
    versions: int = 1
    gone_snapshot_id: int | None = None
    gone_at: datetime | None = None

    def row(self, passage_id: int, source_id: int) -> dict[str, Any]:
        return {
            "passage_id": passage_id,
            "source_id": source_id,
            "first_snapshot_id": self.first_snapshot_id,
            "first_seen": self.first_seen,
            "last_snapshot_id": self.last_snapshot_id,
            "last_seen": self.last_seen,
            "versions": self.versions,
            "gone_snapshot_id": self.gone_snapshot_id,
            "gone_at": self.gone_at,
        }


def advance(open_: dict[str, Interval], lines: Iterable[str], snapshot_id: int, fetched_at: datetime) -> list[Interval]:
    """One more version (its distinct lines) after the open intervals (by line): closes and returns the
    intervals whose passage it lacks, extends the others and opens intervals for its new passages (in
    place)."""
    present = set(lines)
    closed = []
    for line in [k for k in open_ if k not in present]:
        interval = open_.pop(line)
        interval.gone_snapshot_id, interval.gone_at = snapshot_id, fetched_at
        closed.append(interval)
    for line in present:
        extended = open_.get(line)
        if extended is None:
            open_[line] = Interval(line, snapshot_id, fetched_at, snapshot_id, fetched_at)
        else:
            extended.last_snapshot_id, extended.last_seen = snapshot_id, fetched_at
            extended.versions += 1
    return closed


def chain_intervals(chain: Iterable[tuple[int, datetime, str]]) -> tuple[list[Interval], set[str]]:
    """The intervals of a chain of versions (snapshot id, capture time, text; in capture order) and
    every distinct line of it."""
    open_: dict[str, Interval] = {}
    intervals: list[Interval] = []
    seen: set[str] = set()
    for snapshot_id, fetched_at, text in chain:
        lines = passage_lines(text)
        seen.update(lines)
        intervals += advance(open_, lines, snapshot_id, fetched_at)
    return intervals + list(open_.values()), seen


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def passage_ids(session: Session, lines: Iterable[str]) -> dict[str, int]:
    """The ids of these passages (by text), inserting those not stored yet with their terms.

    A line is looked up at its key (``passage_key``): the row there is the line's when its text is the
    same; another line's (a collision) sends it to the next key; none, and it is inserted there. Two
    writers storing the same new line at once (PostgreSQL) do not collide: the second one's insert does
    nothing, and it reads the row the next round, as it does when two new lines of one call want the
    same key."""
    ids: dict[str, int] = {}
    probe = {line: passage_key(line) for line in lines}
    while probe:
        stored: dict[int, tuple[int, str]] = {}
        for keys in _chunks(sorted(set(probe.values()))):
            stored.update(
                (key, (pid, text))
                for key, pid, text in session.execute(
                    select(Passage.key, Passage.id, Passage.text).where(Passage.key.in_(keys))
                )
            )
        free: dict[int, str] = {}  # key -> the one line inserted there this round
        for line, key in list(probe.items()):
            if key not in stored:
                free.setdefault(key, line)
            elif stored[key][1] == line:
                ids[line] = stored[key][0]
                del probe[line]
            else:
                probe[line] = next_key(key)
        for keys in _chunks(list(free)):
            inserted = _insert_passages(session, [(key, free[key]) for key in keys])
            store_terms(session, {pid: free[key] for key, pid in inserted.items()})
            for key, pid in inserted.items():
                ids[free[key]] = pid
                del probe[free[key]]
        # Left: lines whose key another writer or line took meanwhile; the next round reads it.
    return ids


def _insert_passages(session: Session, rows: list[tuple[int, str]]) -> dict[int, int]:
    """Insert passages (key, text) by one multi-row statement through the driver, those whose key is
    taken left out; the ids of those inserted, by key. What SQLAlchemy's executemany with RETURNING
    sends too (one INSERT ... VALUES of all the rows, in their order, so they are numbered alike),
    without its parameter dictionary and rendering in Python per passage."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([f"({mark}, {mark})"] * len(rows))
    statement = f"INSERT INTO passages (key, text) VALUES {values} ON CONFLICT (key) DO NOTHING RETURNING key, id"
    result = connection.exec_driver_sql(statement, tuple(itertools.chain.from_iterable(rows)))
    return dict(result.all())


def source_chain(session: Session, source_id: int) -> list[tuple[int, datetime, int, str]]:
    """The source's snapshots with text in capture order: (snapshot id, fetched_at, text version id,
    text), each snapshot in its newest text version."""
    rows = session.execute(
        select(Snapshot.id, Snapshot.fetched_at, TextVersion.id, TextVersion.text)
        .join(TextVersion, TextVersion.snapshot_id == Snapshot.id)
        .where(Snapshot.source_id == source_id)
        .order_by(Snapshot.fetched_at, Snapshot.id, TextVersion.id)
    )
    newest: dict[int, tuple[int, datetime, int, str]] = {}
    for row in rows:
        newest[row[0]] = row  # ordered by text version id within a snapshot: the newest wins
    return list(newest.values())


def rebuild_source(session: Session, source_id: int) -> int:
    """Replace a source's intervals with those of its whole chain; returns how many it has."""
    chain = source_chain(session, source_id)
    session.execute(delete(PassageOccurrence).where(PassageOccurrence.source_id == source_id))
    intervals, lines = chain_intervals((snapshot_id, at, text) for snapshot_id, at, _tv, text in chain)
    ids = passage_ids(session, lines)
    if intervals:
        session.connection().execute(insert(OCCURRENCES), [i.row(ids[i.line], source_id) for i in intervals])
    state = session.get(PassageIndexState, source_id)
    profile_id = rebuild_steps(session, source_id)
    if not chain:
        if state is not None:
            session.delete(state)
        session.flush()
        return 0
    last_snapshot, last_at, _tv, _text = chain[-1]
    if state is None:
        state = PassageIndexState(source_id=source_id)
        session.add(state)
    state.last_text_version_id = max(tv for _s, _a, tv, _t in chain)
    state.last_snapshot_id, state.last_fetched_at, state.versions = last_snapshot, last_at, len(chain)
    state.last_profile_id = profile_id
    session.flush()
    return len(intervals)


def index_new_versions(
    session: Session, versions: Sequence[tuple[TextVersion, ClaimProfileRecord | None]], *, fresh: Collection[int]
) -> None:
    """The write path's hook for a part of a batch: its new text versions (of distinct sources, in capture
    order) with their claim profiles (flushed, or None), ``fresh`` the sources known to have nothing
    stored before them (no other text version, no index state, no indication step: the recording knows
    it). A fresh source's version is a chain of one; a version appended at the end of its source's
    chain updates the open intervals (``advance``'s step, in SQL); any other (an archived capture older
    than the stored history, a re-extraction, a page never indexed) rebuilds its source
    (``rebuild_source``). The first and appended versions are written together, by a few statements
    for the part rather than a few per page: one query for their index states, one for their open
    intervals, their passages at once (``passage_ids``, in capture order: the ids they get one by one),
    the intervals closed and extended by one executemany each, the new ones by one INSERT, the appended
    versions' indication steps by two queries and one INSERT (``append_steps``). The rows are those
    ``rebuild_source`` makes."""
    states = _appending(session, [version for version, _profile in versions if version.source_id not in fresh])
    for version, _profile in versions:
        if version.source_id not in fresh and version.source_id not in states:
            rebuild_source(session, version.source_id)
    written = [
        (version, profile) for version, profile in versions if version.source_id in fresh or version.source_id in states
    ]
    if not written:
        return
    open_ids = _open_passages(session, sorted(states))
    opened: list[tuple[dict[str, Any], list[str]]] = []  # per version, its new intervals' lines, in capture order
    gone: list[dict[str, Any]] = []  # per open interval whose passage the version lacks
    kept: list[dict[str, Any]] = []  # per source with open intervals left: all of them extend
    for version, _profile in written:
        snapshot, lines = version.snapshot, passage_lines(version.text)
        open_ = open_ids.get(version.source_id, {})
        present = set(lines)
        at = {"b_source": version.source_id, "b_snapshot": snapshot.id, "b_at": snapshot.fetched_at}
        gone += [{**at, "b_passage": pid} for line, pid in open_.items() if line not in present]
        if any(line in present for line in open_):
            kept.append(at)
        opened.append((at, [line for line in lines if line not in open_] if open_ else lines))
    connection = session.connection()
    is_open = OCCURRENCES.c.source_id == sa.bindparam("b_source"), OCCURRENCES.c.gone_at.is_(None)
    at_type = OCCURRENCES.c.last_seen.type
    if gone:  # closed first: the source's intervals still open then are the kept ones
        connection.execute(
            sa.update(OCCURRENCES)
            .where(*is_open, OCCURRENCES.c.passage_id == sa.bindparam("b_passage"))
            .values(gone_snapshot_id=sa.bindparam("b_snapshot"), gone_at=sa.bindparam("b_at", type_=at_type)),
            gone,
        )
    if kept:  # before the new intervals are inserted
        connection.execute(
            sa.update(OCCURRENCES)
            .where(*is_open)
            .values(
                last_snapshot_id=sa.bindparam("b_snapshot"),
                last_seen=sa.bindparam("b_at", type_=at_type),
                versions=OCCURRENCES.c.versions + 1,
            ),
            kept,
        )
    ids = passage_ids(session, dict.fromkeys(line for _at, lines in opened for line in lines))
    new = [{**at, "b_passages": json.dumps([ids[line] for line in lines])} for at, lines in opened if lines]
    if new:
        connection.execute(_opened_statement(connection.dialect.name), new)
    _write_steps_and_states(session, written, states)


def _opened_statement(dialect: str) -> sa.TextClause:
    """The INSERT of one version's new intervals (first and last seen in it, one version, not gone), its
    passages given as one JSON array in the version's order: one parameter set a page, where one a
    passage cost a dictionary built and processed in Python per interval, for values all the same but
    the passage."""
    if dialect == "postgresql":
        passages = (
            "SELECT CAST(p.value AS INTEGER), :b_source, :b_snapshot, :b_at, :b_snapshot, :b_at, 1"
            " FROM json_array_elements_text(CAST(:b_passages AS JSON)) WITH ORDINALITY AS p(value, n) ORDER BY p.n"
        )
    else:
        passages = (
            "SELECT value, :b_source, :b_snapshot, :b_at, :b_snapshot, :b_at, 1"
            " FROM json_each(:b_passages) ORDER BY key"
        )
    return sa.text(
        "INSERT INTO passage_occurrences (passage_id, source_id, first_snapshot_id, first_seen, last_snapshot_id,"
        f" last_seen, versions) {passages}"
    ).bindparams(sa.bindparam("b_at", type_=OCCURRENCES.c.first_seen.type))


def _appending(session: Session, versions: Sequence[TextVersion]) -> dict[int, PassageIndexState]:
    """The index states (by source) of those sources whose new version (one each) appends to the end of
    their chain: indexed before, captured after the version indexed last, and no other text version
    stored since that one (one query per ``CHUNK`` of sources)."""
    by_source = {version.source_id: version for version in versions}
    states: dict[int, PassageIndexState] = {}
    for chunk in _chunks(sorted(by_source)):
        newer = exists().where(
            TextVersion.source_id == PassageIndexState.source_id,
            TextVersion.id > PassageIndexState.last_text_version_id,
            TextVersion.id.not_in([by_source[source_id].id for source_id in chunk]),
        )
        for state, stale in session.execute(
            select(PassageIndexState, newer).where(PassageIndexState.source_id.in_(chunk))
        ):
            snapshot = by_source[state.source_id].snapshot
            if not stale and (snapshot.fetched_at, snapshot.id) > (state.last_fetched_at, state.last_snapshot_id):
                states[state.source_id] = state
    return states


def _open_passages(session: Session, source_ids: list[int]) -> dict[int, dict[str, int]]:
    """The open intervals' passages (text -> id) by source: one per passage, since an interval is open
    until its passage goes."""
    open_ids: dict[int, dict[str, int]] = {}
    for chunk in _chunks(source_ids):
        for source_id, text, passage_id in session.execute(
            select(PassageOccurrence.source_id, Passage.text, PassageOccurrence.passage_id)
            .join(Passage, Passage.id == PassageOccurrence.passage_id)
            .where(PassageOccurrence.source_id.in_(chunk), PassageOccurrence.gone_at.is_(None))
        ):
            open_ids.setdefault(source_id, {})[text] = passage_id
    return open_ids


def _write_steps_and_states(
    session: Session,
    versions: Sequence[tuple[TextVersion, ClaimProfileRecord | None]],
    states: dict[int, PassageIndexState],
) -> None:
    """The indication steps and index states of first versions (no state yet: Core INSERTs of all) and
    appended ones (their ``states``: changed in the session, so one flush writes them by one
    executemany; after ``append_steps``, whose queries would flush them half-updated)."""
    first = [(version, profile) for version, profile in versions if version.source_id not in states]
    steps = [
        {**step, "source_id": version.source_id}
        for version, profile in first
        if profile is not None
        for step in steps_of([(version.snapshot.id, version.snapshot.fetched_at, profile.indications)])
    ]
    if steps:
        session.connection().execute(insert(STEPS), steps)
    if first:
        session.connection().execute(
            insert(STATES),
            [
                {
                    "source_id": version.source_id,
                    "last_text_version_id": version.id,
                    "last_snapshot_id": version.snapshot.id,
                    "last_fetched_at": version.snapshot.fetched_at,
                    "versions": 1,
                    "last_profile_id": profile.id if profile is not None else None,
                }
                for version, profile in first
            ],
        )
    appended = [version for version, _profile in versions if version.source_id in states]
    profile_ids = append_steps(session, [(version, states[version.source_id].last_profile_id) for version in appended])
    for version, profile_id in zip(appended, profile_ids, strict=True):
        state = states[version.source_id]
        state.last_text_version_id, state.last_snapshot_id = version.id, version.snapshot.id
        state.last_fetched_at, state.versions = version.snapshot.fetched_at, state.versions + 1
        state.last_profile_id = profile_id
    session.flush()


@dataclass(frozen=True)
class ReindexReport:
    sources_rebuilt: int
    occurrences: int
    sources_left: int


def stale_sources(session: Session) -> list[int]:
    """Sources whose text versions or claim profiles changed since they were indexed (or never were)."""
    current = session.execute(
        select(TextVersion.source_id, func.max(TextVersion.id), func.count(func.distinct(TextVersion.snapshot_id)))
        .group_by(TextVersion.source_id)
        .order_by(TextVersion.source_id)
    )
    profiles: dict[int, int] = dict(
        session.execute(
            select(ClaimProfileRecord.source_id, func.max(ClaimProfileRecord.id)).group_by(ClaimProfileRecord.source_id)
        ).all()
    )
    states = {
        s.source_id: (s.last_text_version_id, s.versions, s.last_profile_id)
        for s in session.scalars(select(PassageIndexState))
    }
    stale = [
        source_id
        for source_id, newest, count in current
        if states.pop(source_id, None) != (newest, count, profiles.get(source_id))
    ]
    return sorted(stale + list(states))  # states left: sources whose text versions are all gone


def index_incomplete(session: Session) -> bool:
    """Whether a source with stored text has never been indexed (a store upgraded to migration 0014
    that ``watcher reindex`` has not covered yet): readers of the index would miss its pages."""
    unindexed = select(Source.id).where(
        exists().where(TextVersion.source_id == Source.id),
        ~exists().where(PassageIndexState.source_id == Source.id),
    )
    return session.scalar(unindexed.limit(1)) is not None


def reindex(
    session: Session,
    *,
    limit: int | None = None,
    batch: int = 200,
    commit: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Rebuild the passage index of every stale source (at most ``limit``), calling ``commit`` after
    each ``batch`` of sources so that an interrupted run keeps its work and the next resumes."""
    stale = stale_sources(session)
    todo = stale if limit is None else stale[:limit]
    occurrences = 0
    for done, source_id in enumerate(todo, start=1):
        occurrences += rebuild_source(session, source_id)
        if commit is not None and done % batch == 0:
            commit()
        if progress is not None:
            progress(done, len(todo))
    if commit is not None:
        commit()
    return ReindexReport(sources_rebuilt=len(todo), occurrences=occurrences, sources_left=len(stale) - len(todo))
