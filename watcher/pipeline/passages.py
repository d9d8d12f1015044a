"""The distinct-passage index (the write path's last step): each distinct line of extracted text —
a paragraph, heading, list item or table row, as the extractor writes them one a line — is stored
once, in a block of up to ``BLOCK_SLOTS`` lines (``passage_blocks``: the new lines of one write, zstd
on SQLite, TOAST-compressed text on PostgreSQL), found by a 64-bit key from its SHA-256 (``passages``:
key -> id, ``passage_ids``); a passage's id is its block's id * ``BLOCK_SLOTS`` + its slot. The blocks'
one- and two-character terms are posting lists per block (PostgreSQL: a GIN expression index over
``watcher_short_terms(text)``; SQLite: the contentless FTS5 table ``passage_block_terms_fts``, one
document per block, rowid = block id, whose tokens are its terms in hex — ``term_token``): a search
reads the blocks holding the term's terms and finds the lines holding the term in their text.

Per source, the intervals of consecutive versions that contain each passage are kept as *runs*
(``passage_runs``): the passages a source showed over the same versions, with first and last snapshot
showing them, how many versions, and the snapshot that dropped them; ``run_passages`` lists each
passage's runs, the way searches go from passages to pages. A page's first version is one run; a
version that drops some lines of an open run splits them off into a closed run, and its new lines
start one. The runs are the intervals grouped by their stretch of versions, whichever order the
versions were indexed in (``chain_runs``).

Lines rather than sentences: the extractor already cuts the text into lines, a search term never
spans two lines (it cannot contain a line break), so a line is the largest unit that loses no match;
sentences would need a splitter for Japanese and English and would lose matches across their ends.
Blocks rather than one posting list a line: the new lines of a page and of the pages written with it
share most of their terms and compress together (benchmarks/README.md, "Store size").

A source's *chain* is its snapshots with text in capture order (fetched_at, then id), each read in its
newest text version. ``index_new_versions`` runs for the new text versions of each part of a recorded
batch (``record``): a first version of a source with nothing stored is a chain of one; a version
appended at the end of the chain updates the open runs (closing those whose passages are all gone,
splitting off the passages gone, extending the others, opening a run for its new passages); both kinds
are written together for the part. Anything else (an archived capture older than the stored history,
a re-extraction) rebuilds that source's runs from its chain. ``reindex`` rebuilds the sources whose
recorded state (``passage_index_state``) is stale, a batch at a time: resumable and idempotent. Both
produce the same runs (``chain_runs``; the append is its step, ``advance``; ``claim_steps.append_steps``
adds the new versions' indication steps).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import exists, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from watcher.models import (
    BLOCK_SLOTS,
    ClaimProfileRecord,
    Passage,
    PassageBlock,
    PassageIndexState,
    PassageRun,
    RunPassage,
    SecondUTCDateTime,
    Snapshot,
    Source,
    TextVersion,
    decode_block,
    encode_block,
    pack_ids,
    unpack_ids,
)
from watcher.pipeline.claim_steps import CHUNK, STEPS, append_steps, rebuild_steps, steps_of
from watcher.search_index import BLOCK_TERMS_TABLE, TOKEN_PREFIX

# Core statements with many parameter sets (compiled once, not per page; no ORM bulk machinery)
BLOCKS = cast(sa.Table, PassageBlock.__table__)
RUNS = cast(sa.Table, PassageRun.__table__)
MEMBERS = cast(sa.Table, RunPassage.__table__)
STATES = cast(sa.Table, PassageIndexState.__table__)
BLOCK_CHARS = 1 << 14  # a block closes at this many characters of text (at least one line)
T = TypeVar("T")


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


def store_terms(session: Session, blocks: dict[int, list[str]]) -> None:
    """Add new blocks (their lines by block id) to SQLite's term table (PostgreSQL's expression index
    follows the rows by itself). The table is contentless: a block's entry is never removed, nor need
    be, since blocks are immutable and never deleted by the application (``clear_terms`` for tests)."""
    if blocks and session.connection().dialect.name == "sqlite":
        # The driver's executemany of plain tuples: a Core statement would build and process a
        # parameter dictionary per block in Python. A line break is whitespace: no term spans two lines.
        session.connection().exec_driver_sql(
            f"INSERT INTO {BLOCK_TERMS_TABLE}(rowid, terms) VALUES (?, ?)",
            [(block_id, term_document("\n".join(lines))) for block_id, lines in blocks.items()],
        )


def clear_terms(session: Session) -> None:
    """Empty SQLite's term table, before deleting every block (it cannot follow single deletions)."""
    if session.connection().dialect.name == "sqlite":
        session.execute(sa.text(f"INSERT INTO {BLOCK_TERMS_TABLE}({BLOCK_TERMS_TABLE}) VALUES ('delete-all')"))


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


RunKey = tuple[int, datetime, int, datetime, int, int | None, datetime | None]


def interval_key(interval: Interval) -> RunKey:
    """The stretch of versions of an interval: intervals with the same one are one run."""
    return (
        interval.first_snapshot_id,
        interval.first_seen,
        interval.last_snapshot_id,
        interval.last_seen,
        interval.versions,
        interval.gone_snapshot_id,
        interval.gone_at,
    )


def chain_runs(chain: Iterable[tuple[int, datetime, str]]) -> tuple[dict[RunKey, list[str]], set[str]]:
    """The runs of a chain of versions (their lines by stretch of versions, in the order the intervals
    come) and every distinct line of it."""
    intervals, lines = chain_intervals(chain)
    runs: dict[RunKey, list[str]] = {}
    for interval in intervals:
        runs.setdefault(interval_key(interval), []).append(interval.line)
    return runs, lines


def run_row(key: RunKey, source_id: int, passage_ids: Iterable[int]) -> dict[str, Any]:
    first_snapshot_id, first_seen, last_snapshot_id, last_seen, versions, gone_snapshot_id, gone_at = key
    return {
        "source_id": source_id,
        "first_snapshot_id": first_snapshot_id,
        "first_seen": first_seen,
        "last_snapshot_id": last_snapshot_id,
        "last_seen": last_seen,
        "versions": versions,
        "gone_snapshot_id": gone_snapshot_id,
        "gone_at": gone_at,
        "passages": pack_ids(passage_ids),
    }


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def passage_ids(session: Session, lines: Iterable[str]) -> dict[str, int]:
    """The ids of these passages (by text), storing those not stored yet in new blocks with their terms.

    A line is looked up at its key (``passage_key``): the passage there is the line's when its text (in
    its block) is the same; another line's (a collision) sends it to the next key; none, and it is
    stored there. Two writers storing the same new line at once (PostgreSQL) do not collide: the second
    one's key insert does nothing (its block keeps the line in a slot no key points to, which no search
    answer can reach), and it reads the key the next round, as it does when two new lines of one call
    want the same key."""
    ids: dict[str, int] = {}
    blocks: dict[int, list[str]] = {}  # the blocks read, by id
    probe = {line: passage_key(line) for line in lines}
    while probe:
        stored: dict[int, int] = {}
        for keys in _chunks(sorted(set(probe.values()))):
            stored.update(session.execute(select(Passage.key, Passage.id).where(Passage.key.in_(keys))).all())
        _read_blocks(session, {pid // BLOCK_SLOTS for pid in stored.values()}, blocks)
        free: dict[int, str] = {}  # key -> the one line stored there this round
        for line, key in list(probe.items()):
            pid = stored.get(key)
            if pid is None:
                free.setdefault(key, line)
            elif blocks[pid // BLOCK_SLOTS][pid % BLOCK_SLOTS] == line:
                ids[line] = pid
                del probe[line]
            else:
                probe[line] = next_key(key)
        if free:
            for key, pid in store_passages(session, list(free.items())).items():
                ids[free[key]] = pid
                del probe[free[key]]
        # Left: lines whose key another writer or line took meanwhile; the next round reads it.
    return ids


def _read_blocks(session: Session, block_ids: Iterable[int], blocks: dict[int, list[str]]) -> None:
    """Add the lines of these blocks (those not in ``blocks`` yet) to ``blocks``."""
    for chunk in _chunks(sorted(set(block_ids).difference(blocks))):
        for block_id, joined in session.connection().execute(
            select(BLOCKS.c.id, BLOCKS.c.text).where(BLOCKS.c.id.in_(chunk))
        ):
            blocks[block_id] = decode_block(joined)


def new_blocks(items: Iterable[T], line_of: Callable[[T], str] = str) -> Iterator[list[T]]:
    """New lines (or items carrying one: ``line_of``) cut into blocks, in order: at most ``BLOCK_SLOTS``
    lines, closed before a line that would take the block's text (lines and breaks) past
    ``BLOCK_CHARS`` characters (a block has at least one line)."""
    block: list[T] = []
    size = 0
    for item in items:
        length = len(line_of(item))
        if block and (len(block) == BLOCK_SLOTS or size + length > BLOCK_CHARS):
            yield block
            block, size = [], 0
        block.append(item)
        size += length + 1
    if block:
        yield block


def store_passages(session: Session, rows: list[tuple[int, str]]) -> dict[int, int]:
    """Store new passages (key, line): their lines in new blocks (with their terms), then their keys,
    by one multi-row statement through the driver, those whose key is taken left out; the ids of those
    stored, by key."""
    connection = session.connection()
    dialect = connection.dialect.name
    cut = list(new_blocks([line for _key, line in rows]))
    block_ids = _insert_blocks(session, [encode_block(block, dialect) for block in cut])
    store_terms(session, dict(zip(block_ids, cut, strict=True)))
    wanted: list[tuple[int, int]] = []
    keys = iter(rows)
    for block_id, block in zip(block_ids, cut, strict=True):
        for slot in range(len(block)):
            wanted.append((next(keys)[0], block_id * BLOCK_SLOTS + slot))
    stored: dict[int, int] = {}
    mark = _placeholder(connection)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        values = ", ".join([f"({mark}, {mark})"] * len(chunk))
        statement = f"INSERT INTO passages (key, id) VALUES {values} ON CONFLICT (key) DO NOTHING RETURNING key, id"
        stored.update(connection.exec_driver_sql(statement, tuple(itertools.chain.from_iterable(chunk))).all())
    return stored


def _placeholder(connection: Connection) -> str:
    """The driver's parameter placeholder, for statements sent through ``exec_driver_sql``."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _insert_blocks(session: Session, texts: list[bytes | str]) -> list[int]:
    """Insert blocks (their stored text) by multi-row statements; their ids, in order. A statement
    numbers its rows in the order of its values (SQLite: one more than the largest rowid each;
    PostgreSQL: the id sequence, called row by row), whatever the order it returns them in."""
    connection = session.connection()
    mark = _placeholder(connection)
    ids: list[int] = []
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        values = ", ".join([f"({mark})"] * len(chunk))
        statement = f"INSERT INTO passage_blocks (text) VALUES {values} RETURNING id"
        ids += sorted(connection.exec_driver_sql(statement, tuple(chunk)).scalars())
    return ids


def passage_texts(session: Session, passage_ids_: Iterable[int]) -> dict[int, str]:
    """The text of these passages, by id (blocks read once each)."""
    wanted = set(passage_ids_)
    blocks: dict[int, list[str]] = {}
    _read_blocks(session, {pid // BLOCK_SLOTS for pid in wanted}, blocks)
    return {pid: blocks[pid // BLOCK_SLOTS][pid % BLOCK_SLOTS] for pid in wanted if pid // BLOCK_SLOTS in blocks}


def source_intervals(session: Session, source_id: int) -> list[Interval]:
    """A source's intervals (one per passage and stretch of versions, ``line`` its text), from its runs:
    what ``chain_intervals`` of its chain gives, in no particular order."""
    runs = session.execute(select(PassageRun).where(PassageRun.source_id == source_id)).scalars().all()
    members = {run.id: unpack_ids(run.passages) for run in runs}
    texts = passage_texts(session, itertools.chain.from_iterable(members.values()))
    return [
        Interval(
            texts[pid],
            run.first_snapshot_id,
            run.first_seen,
            run.last_snapshot_id,
            run.last_seen,
            run.versions,
            run.gone_snapshot_id,
            run.gone_at,
        )
        for run in runs
        for pid in members[run.id]
    ]


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
    """Replace a source's runs with those of its whole chain; returns how many intervals it has."""
    chain = source_chain(session, source_id)
    _delete_runs(session, source_id)
    runs, lines = chain_runs((snapshot_id, at, text) for snapshot_id, at, _tv, text in chain)
    ids = passage_ids(session, lines)
    _insert_runs(session, [run_row(key, source_id, (ids[line] for line in run)) for key, run in runs.items()])
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
    return sum(len(run) for run in runs.values())


def _member_key(passage_id: int, source_id: int, first_seen: datetime, run_id: int) -> dict[str, Any]:
    """A membership's primary key as the parameters of ``_DELETE_MEMBER``."""
    return {"b_passage": passage_id, "b_source": source_id, "b_first": first_seen, "b_run": run_id}


_DELETE_MEMBER = sa.delete(MEMBERS).where(
    MEMBERS.c.passage_id == sa.bindparam("b_passage"),
    MEMBERS.c.source_id == sa.bindparam("b_source"),
    MEMBERS.c.first_seen == sa.bindparam("b_first", type_=MEMBERS.c.first_seen.type),
    MEMBERS.c.run_id == sa.bindparam("b_run"),
)


def _delete_runs(session: Session, source_id: int) -> None:
    """Remove a source's runs and their memberships."""
    connection = session.connection()
    runs = connection.execute(
        select(RUNS.c.id, RUNS.c.first_seen, RUNS.c.passages).where(RUNS.c.source_id == source_id)
    ).all()
    members = [
        _member_key(pid, source_id, first, run_id) for run_id, first, packed in runs for pid in unpack_ids(packed)
    ]
    if members:
        connection.execute(_DELETE_MEMBER, members)
    if runs:
        connection.execute(sa.delete(RUNS).where(RUNS.c.source_id == source_id))


def _insert_runs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert runs (``run_row``s) by multi-row statements, then their memberships: each run comes back
    with its id and its passages, so its memberships follow from the returned row, whatever the order
    the rows come back in."""
    if not rows:
        return
    connection = session.connection()
    stored = partial(SecondUTCDateTime().process_bind_param, dialect=connection.dialect)  # as the column keeps it
    members = []
    for start in range(0, len(rows), CHUNK):
        returned = connection.execute(
            insert(RUNS)
            .values(rows[start : start + CHUNK])
            .returning(RUNS.c.id, RUNS.c.source_id, RUNS.c.first_seen, RUNS.c.passages)
        )
        members += [
            (pid, source_id, stored(first), run_id)
            for run_id, source_id, first, packed in returned
            for pid in unpack_ids(packed)
        ]
    mark = _placeholder(connection)
    connection.exec_driver_sql(
        f"INSERT INTO run_passages (passage_id, source_id, first_seen, run_id) VALUES ({mark}, {mark}, {mark}, {mark})",
        members,
    )


@dataclass
class _OpenRun:
    id: int
    key: RunKey
    passages: set[int]


def index_new_versions(
    session: Session, versions: Sequence[tuple[TextVersion, ClaimProfileRecord | None]], *, fresh: Collection[int]
) -> None:
    """The write path's hook for a part of a batch: its new text versions (of distinct sources, in capture
    order) with their claim profiles (flushed, or None), ``fresh`` the sources known to have nothing
    stored before them (no other text version, no index state, no indication step: the recording knows
    it). A fresh source's version is a chain of one; a version appended at the end of its source's
    chain updates the open runs (``advance``'s step); any other (an archived capture older than the
    stored history, a re-extraction, a page never indexed) rebuilds its source (``rebuild_source``). The
    first and appended versions are written together, by a few statements for the part rather than a
    few per page: one query for their index states, one for their open runs, their passages at once
    (``passage_ids``, in capture order), the runs extended and closed by one executemany each, the new
    ones (a version's new lines, the lines split off a run) by one INSERT with their memberships, the
    memberships moved by one DELETE and that INSERT, the appended versions' indication steps by two
    queries and one INSERT (``append_steps``). The runs are those ``rebuild_source`` makes."""
    states = _appending(session, [version for version, _profile in versions if version.source_id not in fresh])
    for version, _profile in versions:
        if version.source_id not in fresh and version.source_id not in states:
            rebuild_source(session, version.source_id)
    written = [
        (version, profile) for version, profile in versions if version.source_id in fresh or version.source_id in states
    ]
    if not written:
        return
    open_runs = _open_runs(session, sorted(states))
    lines_of = {version.id: passage_lines(version.text) for version, _profile in written}
    ids = passage_ids(session, dict.fromkeys(itertools.chain.from_iterable(lines_of.values())))
    extended: list[dict[str, Any]] = []  # open runs all of whose passages the version still has
    closed: list[dict[str, Any]] = []  # open runs none of whose passages it has
    new: list[dict[str, Any]] = []  # runs split off (closed) and runs of new passages
    moved: list[dict[str, Any]] = []  # memberships of the passages split off, from their open run
    for version, _profile in written:
        snapshot, source_id = version.snapshot, version.source_id
        present = [ids[line] for line in lines_of[version.id]]
        left = set(present)
        for run in open_runs.get(source_id, []):
            kept, dropped = run.passages & left, run.passages - left
            left -= run.passages
            if not kept:
                closed.append({"b_id": run.id, "b_snapshot": snapshot.id, "b_at": snapshot.fetched_at})
                continue
            if dropped:
                first, first_at, last, last_at, count, _gone, _gone_at = run.key
                new.append(run_row((first, first_at, last, last_at, count, snapshot.id, snapshot.fetched_at),
                                   source_id, dropped))  # fmt: skip
                moved += [_member_key(pid, source_id, first_at, run.id) for pid in dropped]
            extended.append(
                {"b_id": run.id, "b_snapshot": snapshot.id, "b_at": snapshot.fetched_at, "b_passages": pack_ids(kept)}
            )
        if left:
            at = snapshot.id, snapshot.fetched_at
            new.append(run_row((*at, *at, 1, None, None), source_id, (pid for pid in present if pid in left)))
    connection = session.connection()
    at_type = RUNS.c.last_seen.type
    by_id = RUNS.c.id == sa.bindparam("b_id")
    if closed:
        connection.execute(
            sa.update(RUNS)
            .where(by_id)
            .values(gone_snapshot_id=sa.bindparam("b_snapshot"), gone_at=sa.bindparam("b_at", type_=at_type)),
            closed,
        )
    if extended:
        connection.execute(
            sa.update(RUNS)
            .where(by_id)
            .values(
                last_snapshot_id=sa.bindparam("b_snapshot"),
                last_seen=sa.bindparam("b_at", type_=at_type),
                versions=RUNS.c.versions + 1,
                passages=sa.bindparam("b_passages"),
            ),
            extended,
        )
    if moved:
        connection.execute(_DELETE_MEMBER, moved)
    _insert_runs(session, new)
    _write_steps_and_states(session, written, states)


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


def _open_runs(session: Session, source_ids: list[int]) -> dict[int, list[_OpenRun]]:
    """The open runs of these sources (with their stretch of versions and passages), by source."""
    open_runs: dict[int, list[_OpenRun]] = {}
    for chunk in _chunks(source_ids):
        for run in session.execute(
            select(RUNS).where(RUNS.c.source_id.in_(chunk), RUNS.c.gone_at.is_(None)).order_by(RUNS.c.id)
        ):
            key = (run.first_snapshot_id, run.first_seen, run.last_snapshot_id, run.last_seen, run.versions, None, None)
            open_runs.setdefault(run.source_id, []).append(_OpenRun(run.id, key, set(unpack_ids(run.passages))))
    return open_runs


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
