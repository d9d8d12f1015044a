"""Recording a batch of captures in one session (``record_captures``: the writes gathered per batch, the
first versions of pages with nothing stored indexed by a few Core statements) stores exactly what
recording the same captures one at a time stores, and its passage index and indication steps are those
``rebuild_source`` makes from the stored chain; on both databases. The batch mixes first captures, a
page with history (its previous version looked up, a change and alerts), a page captured twice in the
batch, an archived capture, a failed one and an unchanged one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from history_factory import A_V1, A_V2, A_V3, A_V4, B_V1, B_V2, S_V1, TERM_JA, at
from sqlalchemy.orm import Session

from watcher.capture import Capture
from watcher.config import Settings
from watcher.db import Store
from watcher.models import Base, ClaimProfileRecord, IndicationStep, Passage, Source
from watcher.pipeline.analyse import analyse_new_version, analyse_new_versions
from watcher.pipeline.passages import passage_texts, rebuild_source, source_intervals
from watcher.pipeline.record import (
    CheckResult,
    fresh_sources,
    latest_text_version,
    latest_text_versions,
    record_capture,
    record_captures,
)
from watcher.sources import SourceSpec, add_sources

KEYS = 5
# (page key, day, html or None for an HTTP 500, archived): the batch, in the order it arrives.
BATCH = [
    (0, 2, A_V2, False),
    (1, 2, B_V1, False),
    (2, 2, A_V3, False),  # has history: compared with its version of day 0
    (1, 3, B_V2, False),  # the same page again: compared with the version of day 2 above
    (3, 2, None, False),  # a failed check
    (4, 1, S_V1, True),  # an archived capture of a page never captured
    (0, 3, A_V2, False),  # unchanged
]
HISTORY = [(2, 0, A_V1, False)]
INDEX_TABLES = ("passage_occurrences", "indication_steps", "passage_index_state")


def _capture(source_id: int, url: str, day: int, html: str | None, archived: bool) -> Capture:
    return Capture(
        source_id=source_id,
        requested_url=url,
        final_url=url,
        fetched_at=at(day),
        duration_ms=5,
        status=200 if html is not None else 500,
        headers={"Content-Type": ["text/html; charset=utf-8"], "ETag": [f'"{day}"']},
        body=(html or "<h1>Internal Server Error</h1>").encode("utf-8"),
        archive_url=f"https://web.archive.org/web/2026/{url}" if archived else None,
    )


def _add_group(store: Store, host: str, keys: int = KEYS) -> list[tuple[int, str]]:
    urls = [f"https://{host}/page-{key}" for key in range(keys)]
    with store.session() as session:
        return [(source.id, source.url) for source in add_sources(session, [SourceSpec(url=url) for url in urls])]


def _one_at_a_time(
    store: Store, settings: Settings, group: list[tuple[int, str]], plan: Sequence[tuple[int, int, str | None, bool]]
) -> None:
    """Record the plan's captures of the group's pages each in a session of its own."""
    for key, day, html, archived in plan:
        with store.session() as session:
            record_capture(
                session,
                _capture(*group[key], day, html, archived),
                settings=settings,
                on_new_version=analyse_new_version,
            )


def dump(session: Session, group: list[tuple[int, str]]) -> dict[str, list[str]]:
    """The group's rows of every table that has a source, ids replaced by what they stand for: a source
    by its page key, a snapshot by its page and capture time, a text version or profile by its snapshot's,
    a passage by its text; creation times left out."""
    key = {source_id: n for n, (source_id, _url) in enumerate(group)}
    snapshots = {
        sid: (key[src], str(fetched))
        for sid, src, fetched in session.execute(sa.text("SELECT id, source_id, fetched_at FROM snapshots"))
        if src in key
    }
    versions = {
        tv: snapshots.get(snap) for tv, snap in session.execute(sa.text("SELECT id, snapshot_id FROM text_versions"))
    }
    profiles = {
        pid: versions.get(tv) for pid, tv in session.execute(sa.text("SELECT id, text_version_id FROM claim_profiles"))
    }
    mapped: dict[str, Any] = {"snapshot_id": snapshots, "version_id": versions, "profile_id": profiles}

    def plain(column: str, value: Any) -> Any:
        if column == "source_id":
            return key[value]
        for suffix, ids in mapped.items():
            if column.endswith(suffix) and value is not None:
                return ids.get(value, f"unknown {value}")
        if isinstance(value, str):
            return re.sub(r"\w+\.example", "host", value)  # the groups' URLs
        return value if isinstance(value, int | float | type(None)) else str(value)

    tables: dict[str, list[str]] = {
        # The runs as the intervals they stand for (a run's id and grouping depend on the order of writes)
        "passage_occurrences": sorted(
            repr(sorted((c, plain(c, v)) for c, v in vars(interval).items()))
            for source_id in key
            for interval in source_intervals(session, source_id)
        )
    }
    for table in Base.metadata.sorted_tables:
        if "source_id" not in table.c or table.name in ("sources", "passage_runs", "run_passages"):
            continue
        rows = session.execute(sa.select(table).where(table.c.source_id.in_(list(key)))).mappings()
        tables[table.name] = sorted(
            repr(
                sorted(
                    (c, plain(c, v))
                    for c, v in row.items()
                    if c not in ("id", "created_at", "detected_at", "diff_seconds")
                )
            )
            for row in rows
        )
    return tables


def test_a_batch_stores_what_captures_one_at_a_time_store(store: Store, settings: Settings) -> None:
    one, batch = _add_group(store, "one.example"), _add_group(store, "batch.example")
    for group in (one, batch):
        _one_at_a_time(store, settings, group, HISTORY)
    with store.session() as session:
        fresh = fresh_sources(session, [source_id for source_id, _url in batch])
        assert fresh == {source_id for n, (source_id, _url) in enumerate(batch) if n != 2}
    _one_at_a_time(store, settings, one, BATCH)
    results = _record_plan(store, settings, batch, BATCH)
    assert [r.outcome for r in results] == ["changed", "changed", "changed", "changed", "error", "changed", "unchanged"]
    assert all(r.check_id for r in results) and [r.source_id for r in results] == [batch[k][0] for k, *_ in BATCH]
    with store.session() as session:
        stored_one, stored_batch = dump(session, one), dump(session, batch)
        assert stored_batch == stored_one
        assert stored_batch["changes"] and stored_batch["alerts"] and stored_batch["indication_steps"]
        assert len(stored_batch["passage_index_state"]) == KEYS - 1  # the failed page has no text
        for source_id, _url in batch:  # the index as rebuilt from the stored chain: the same rows
            rebuild_source(session, source_id)
        rebuilt = dump(session, batch)
        assert {t: rebuilt[t] for t in INDEX_TABLES} == {t: stored_batch[t] for t in INDEX_TABLES}


def test_a_source_with_stored_text_but_no_index_is_not_fresh(store: Store, settings: Settings) -> None:
    """A store whose index was never built (upgraded, not reindexed yet) or whose steps outlived their
    versions: such sources are not taken for first captures, so their history is looked up and rebuilt."""
    group = _add_group(store, "old.example")
    with store.session() as session:
        record_capture(
            session, _capture(*group[0], 0, A_V1, False), settings=settings, on_new_version=analyse_new_version
        )
        session.execute(sa.text("DELETE FROM passage_index_state"))
        stray = {"indication": "depression", "snapshot_id": 0, "fetched_at": at(0), "strength": 1}
        session.execute(sa.insert(IndicationStep).values(source_id=group[1][0], **stray))
    with store.session() as session:
        assert fresh_sources(session, [s for s, _url in group]) == {s for s, _url in group[2:]}
        results = record_captures(
            session,
            [_capture(*group[0], 1, A_V2, False), _capture(*group[1], 1, B_V1, False)],
            settings=settings,
            on_new_version=analyse_new_version,
        )
        assert [r.outcome for r in results] == ["changed", "changed"] and results[0].change_id is not None
    with store.session() as session:
        stored = dump(session, group)
        assert len(stored["passage_index_state"]) == 2
        assert not any("unknown" in step for step in stored["indication_steps"])  # the stray step is gone
        for source_id, _url in group:
            rebuild_source(session, source_id)
        rebuilt = dump(session, group)
        assert {t: rebuilt[t] for t in INDEX_TABLES} == {t: stored[t] for t in INDEX_TABLES}


def test_a_batch_of_304s_inserts_its_checks_together(store: Store, settings: Settings) -> None:
    """Checks that write nothing else (304s) go in by one multi-row INSERT (``insert_ids``); their ids
    follow each other in the captures' order, as one at a time."""
    group = _add_group(store, "not-modified.example")
    inserts: list[str] = []  # the INSERT INTO checks statements sent

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CHECKS"):
            inserts.append(statement)

    captures = [
        Capture(
            source_id=source_id,
            requested_url=url,
            final_url=url,
            fetched_at=at(1),
            duration_ms=3,
            status=304,
            headers={"ETag": ['"1"']},
            body=b"",
        )
        for source_id, url in group
    ]
    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            results = record_captures(session, captures, settings=settings)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert [r.outcome for r in results] == ["not_modified"] * KEYS
    ids = [r.check_id for r in results]
    assert ids == list(range(ids[0], ids[0] + KEYS))  # consecutive, in the captures' order
    assert len(inserts) == 1
    with store.session() as session:
        stored = session.execute(sa.text("SELECT id, source_id FROM checks ORDER BY id")).all()
    assert [tuple(row) for row in stored][-KEYS:] == [(i, s) for i, (s, _url) in zip(ids, group, strict=True)]


# A part whose pages have history (appended to, or rebuilt) beside first captures: page 0's 統合失調症 went
# on day 1 and comes back, page 1 gains it and loses its price line, page 3 shows it first: three sources
# opening the same new passage in one part; page 4's first version shares page 2's stored passages while
def _record_plan(
    store: Store, settings: Settings, group: list[tuple[int, str]], plan: Sequence[tuple[int, int, str | None, bool]]
) -> list[CheckResult]:
    """Record the plan's captures (page key, day, HTML or None for a 500, archived) as one batch."""
    with store.session() as session:
        return record_captures(
            session,
            [_capture(*group[key], day, html, archived) for key, day, html, archived in plan],
            settings=settings,
            on_new_version=analyse_new_version,
        )


def _record_part(
    store: Store,
    settings: Settings,
    group: list[tuple[int, str]],
    plan: Sequence[tuple[int, int, str | None, bool]],
    tables: Sequence[str],
) -> list[tuple[str, int]]:
    """Record the plan's captures (all changed) as one batch; returns the statements sent that name
    one of ``tables`` (lower case, one line), each with its number of parameter sets."""
    statements: list[tuple[str, int]] = []

    def log(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        words = " ".join(statement.split()).lower()
        if any(table in words for table in tables):
            statements.append((words, len(parameters) if executemany else 1))

    sa.event.listen(store.engine, "before_cursor_execute", log)
    try:
        results = _record_plan(store, settings, group, plan)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", log)
    assert [r.outcome for r in results] == ["changed"] * len(plan)
    return statements


# page 2 drops some of them; page 5 gets an archived capture older than its history (a rebuild).
PART_HISTORY = [(0, 0, A_V2, False), (0, 1, A_V3, False), (1, 0, A_V1, False), (2, 0, B_V1, False), (5, 3, A_V1, False)]
PART = [(0, 2, A_V4, False), (1, 2, A_V2, False), (2, 2, B_V2, False), (3, 2, A_V2, False), (4, 2, B_V1, False)]
PART += [(5, 1, S_V1, True)]


def test_a_part_of_first_appended_and_rebuilt_versions_indexes_as_a_rebuild(store: Store, settings: Settings) -> None:
    """One part (distinct sources) mixing first, appended and out-of-order versions: its index rows are
    those one capture at a time gives and those ``rebuild_source`` makes from the stored chains, a
    passage shared by several pages is stored once, one that went and came back has two intervals; and
    the appended pages' intervals and states are written by one statement each for the whole part."""
    one, batch = _add_group(store, "one.example", 6), _add_group(store, "part.example", 6)
    for group in (one, batch):
        _one_at_a_time(store, settings, group, PART_HISTORY)
    _one_at_a_time(store, settings, one, PART)
    statements = _record_part(store, settings, batch, PART, ("passage_runs", "run_passages", "passage_index_state"))

    def writes(prefix: str) -> list[int]:
        return [sets for statement, sets in statements if statement.startswith(prefix)]

    # Split off: page 1's two lines of v1 (the price and the possible claim), page 2's claim line, page 0's
    # lines of v3 that v4 lacks (their memberships moved by one DELETE); extended: the open runs of pages 0
    # (two: its lines since day 0, those since day 1), 1 and 2, one parameter set each; the rebuilt page 5
    # deletes and inserts its own rows.
    assert writes("update passage_runs set last_snapshot_id") == [4]
    assert len(writes("update passage_runs set gone_snapshot_id")) <= 1
    assert writes("update passage_index_state") == [1, 3]  # page 5's rebuild first
    assert len(writes("insert into passage_runs")) == 2  # page 5's rebuild; the part's new runs
    assert len(writes("delete from run_passages")) == 2
    with store.session() as session:
        stored_one, stored_batch = dump(session, one), dump(session, batch)
        assert stored_batch == stored_one
        texts = list(passage_texts(session, session.scalars(sa.select(Passage.id))).values())
        assert len(texts) == len(set(texts))
        shared = f"- {TERM_JA}"
        opened = [row for row in stored_batch["passage_occurrences"] if f"('line', {shared!r})" in row]
        # page 0: day 0 to day 0, gone day 1, and again from day 2; pages 1 and 3: from day 2.
        assert len(opened) == 4 and sum("('gone_at', None)" in row for row in opened) == 3
        for source_id, _url in batch:
            rebuild_source(session, source_id)
        rebuilt = dump(session, batch)
        assert {t: rebuilt[t] for t in INDEX_TABLES} == {t: stored_batch[t] for t in INDEX_TABLES}


# Each page's indications change on day 2: page 0 depression stronger and schizophrenia new, page 1
# (English) depression stronger, page 2 schizophrenia gone (compared with its day 1 version), page 3
# depression weaker, schizophrenia and anxiety gone.
STEPS_HISTORY = [(0, 0, A_V1, False), (1, 0, B_V1, False), (2, 0, A_V2, False), (2, 1, A_V4, False)]
STEPS_HISTORY += [(3, 0, A_V4, False)]
STEPS_PART = [(0, 2, A_V2, False), (1, 2, B_V2, False), (2, 2, A_V3, False), (3, 2, A_V1, False)]


def test_a_part_of_appended_pages_whose_indications_change_has_the_steps_of_one_at_a_time(
    store: Store, settings: Settings
) -> None:
    """Several appended pages in one part, their indications new, stronger, weaker and gone: their
    steps (each compared with its own page's newest profiled version before) are those one capture at
    a time writes and those ``rebuild_source`` makes, inserted by one statement for the part."""
    one, batch = _add_group(store, "one.example", 4), _add_group(store, "part.example", 4)
    for group in (one, batch):
        _one_at_a_time(store, settings, group, STEPS_HISTORY)
    _one_at_a_time(store, settings, one, STEPS_PART)
    statements = _record_part(store, settings, batch, STEPS_PART, ("indication_steps",))
    inserts = [sets for statement, sets in statements if statement.startswith("insert into indication_steps")]
    with store.session() as session:
        stored_one, stored_batch = dump(session, one), dump(session, batch)
        assert stored_batch == stored_one
        key = {source_id: n for n, (source_id, _url) in enumerate(batch)}
        steps = session.execute(
            sa.select(
                IndicationStep.source_id,
                IndicationStep.indication,
                IndicationStep.fetched_at,
                IndicationStep.strength,
                IndicationStep.previous_fetched_at,
            ).where(IndicationStep.source_id.in_(list(key)))
        ).all()
        assert inserts == [sum(fetched == at(2) for _s, _i, fetched, _st, _p in steps)]  # one INSERT, all of them
        on_day_2 = {
            (key[s], i): (strength, previous) for s, i, fetched, strength, previous in steps if fetched == at(2)
        }
        first = {(key[s], i): fetched for s, i, fetched, _st, _p in sorted(steps, key=lambda r: r[2], reverse=True)}
        # compared with day 1's version on page 2 (its newest before), day 0's elsewhere
        assert {k[0]: previous for k, (_st, previous) in on_day_2.items()} == {0: at(0), 1: at(0), 2: at(1), 3: at(0)}
        assert any(first[k] == at(2) for k in on_day_2 if k[0] == 0)  # new on page 0
        assert any(strength == 0 for k, (strength, _p) in on_day_2.items() if k[0] == 2)  # gone on page 2
        assert all(strength == 0 or k[1] == "depression" for k, (strength, _p) in on_day_2.items() if k[0] == 3)
        (depression,) = [k for k in on_day_2 if k[0] == 1]  # page 1: one step, stronger than day 0's
        assert on_day_2[depression][0] > next(
            st for s, i, f, st, _p in steps if (key[s], i) == depression and f == at(0)
        )
        for source_id, _url in batch:
            rebuild_source(session, source_id)
        rebuilt = dump(session, batch)
        assert {t: rebuilt[t] for t in INDEX_TABLES} == {t: stored_batch[t] for t in INDEX_TABLES}


def test_a_page_profiled_late_in_a_part_of_appended_pages_is_rebuilt_in_its_place(
    store: Store, settings: Settings
) -> None:
    """Page 1's day 0 profile is of an older analyser (its steps left it out), so its new version's
    analysis profiles that version again and its steps are rebuilt whole; the pages before and after it
    in the part still append theirs, inserted around the rebuild in the part's order. The rows are
    those one capture at a time writes and those ``rebuild_source`` makes."""
    one, batch = _add_group(store, "one.example", 4), _add_group(store, "part.example", 4)
    for group in (one, batch):
        _one_at_a_time(store, settings, group, STEPS_HISTORY)
        with store.session() as session:
            session.execute(
                sa.update(ClaimProfileRecord)
                .where(ClaimProfileRecord.source_id == group[1][0])
                .values(analyser_version="old")
            )
            rebuild_source(session, group[1][0])
    _one_at_a_time(store, settings, one, STEPS_PART)
    statements = _record_part(store, settings, batch, STEPS_PART, ("indication_steps",))
    with store.session() as session:
        stored_one, stored_batch = dump(session, one), dump(session, batch)
        assert stored_batch == stored_one
        # page 0's steps, page 1's deleted and rebuilt (day 0 and 2 now), pages 2 and 3's together
        assert [words.split()[0] for words, _sets in statements if not words.startswith("select")] == [
            "insert",
            "delete",
            "insert",
            "insert",
        ]
        for source_id, _url in batch:
            rebuild_source(session, source_id)
        rebuilt = dump(session, batch)
        assert {t: rebuilt[t] for t in INDEX_TABLES} == {t: stored_batch[t] for t in INDEX_TABLES}


def test_a_part_of_first_captures_stores_bodies_before_snapshots(store: Store, settings: Settings) -> None:
    """A part of pages with nothing stored yet, in a session that has not loaded their sources: each
    page's source is read from the database (not the session's identity map), and that read must not
    write the pages met before it (their snapshots refer to bodies the part has not stored yet)."""
    group = _add_group(store, "unloaded.example", 3)
    with store.session() as session:
        results = record_captures(
            session,
            [_capture(*group[key], 1, html, False) for key, html in enumerate((A_V1, B_V1, S_V1))],
            settings=settings,
            on_new_version=analyse_new_version,
        )
    assert [r.outcome for r in results] == ["changed"] * 3 and all(r.snapshot_id for r in results)
    with store.session() as session:
        stored = dump(session, group)
        assert len(stored["snapshots"]) == len(stored["text_versions"]) == len(stored["passage_index_state"]) == 3


def test_a_part_reads_its_pages_previous_versions_by_one_query(store: Store, settings: Settings) -> None:
    """The pages of a part that have history find their previous versions by one query (the archived
    capture, compared with the version before its own time, by one of its own), the same versions
    ``latest_text_version`` finds one by one (None for a page without any)."""
    batch = _add_group(store, "previous.example", keys=6)
    _one_at_a_time(store, settings, batch, PART_HISTORY)
    with store.session() as session:
        sources = [session.get(Source, source_id) for source_id, _url in batch]
        together = latest_text_versions(session, [source for source in sources if source is not None])
        alone = {source.id: latest_text_version(session, source) for source in sources if source is not None}
        assert {k: v.id if v else None for k, v in together.items()} == {
            k: v.id if v else None for k, v in alone.items()
        }
        assert [together[source_id] is None for source_id, _url in batch] == [False, False, False, True, True, False]
    statements = _record_part(store, settings, batch, PART, ("bodies",))
    lookups = [words for words, _sets in statements if words.startswith("select") and "join bodies" in words]
    assert len(lookups) == 2, lookups


def test_a_part_analysed_together_stores_what_one_at_a_time_stores(store: Store, settings: Settings) -> None:
    """``analyse_new_versions`` (the service's hook, once per part) stores the profiles and alerts that
    ``analyse_new_version`` stores one version at a time, and reads the previous profiles of the part's
    three pages with history by one query."""
    one, together = _add_group(store, "alone.example", keys=6), _add_group(store, "together.example", keys=6)
    for group in (one, together):
        _one_at_a_time(store, settings, group, PART_HISTORY)
    _one_at_a_time(store, settings, one, PART)
    lookups: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if (
            " ".join(statement.split())
            .lower()
            .startswith("select claim_profiles.text_version_id, claim_profiles.profile")
        ):
            lookups.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", log)
    try:
        with store.session() as session:
            captures = [_capture(*together[key], day, html, archived) for key, day, html, archived in PART]
            results = record_captures(session, captures, settings=settings, on_new_versions=analyse_new_versions)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", log)
    assert [r.outcome for r in results] == ["changed"] * len(PART)
    with store.session() as session:
        stored_one, stored_together = dump(session, one), dump(session, together)
    assert stored_together == stored_one and stored_together["alerts"]
    assert len(lookups) == 1
