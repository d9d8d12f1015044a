"""The distinct-passage index (watcher.pipeline.passages): maintained as versions are recorded, A → B → A
flips as two intervals, ``watcher reindex`` building the same rows as the write path (resumable and
idempotent), short searches through the term table with the right first-seen dates, on both databases;
and the interval algebra itself as a property over random version sequences."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from history_factory import A_V1, A_V2, A_V3, TERM_JA, URL_A, URL_B, URL_S, at, build_history, capture, page
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from watcher.capture import Capture
from watcher.config import Settings
from watcher.db import Store
from watcher.models import (
    ClaimProfileRecord,
    IndicationStep,
    Passage,
    PassageBlock,
    PassageIndexState,
    PassageRun,
    RunPassage,
    Snapshot,
    Source,
    TextVersion,
)
from watcher.pipeline.analyse import analyse_new_version
from watcher.pipeline.claim_steps import _later_profiles
from watcher.pipeline.passages import (
    advance,
    chain_intervals,
    clear_terms,
    index_incomplete,
    passage_lines,
    passage_texts,
    rebuild_source,
    reindex,
    short_terms,
    source_intervals,
    stale_sources,
    term_document,
)
from watcher.pipeline.record import record_capture
from watcher.queries.claims import _indication_rows, _scanned_indication_rows, claim_timelines
from watcher.search import matching_passages, search, search_method
from watcher.search_index import term_token
from watcher.sources import SourceSpec, add_sources

Row = tuple[Any, ...]


def index_rows(session: Session) -> set[Row]:
    """Every interval as comparable values (passage text, page, dates, snapshots), ids of rows left out."""
    return {
        (i.line, url, i.first_snapshot_id, i.first_seen, i.last_snapshot_id, i.last_seen, i.versions, i.gone_snapshot_id,
         i.gone_at)
        for source_id, url in session.execute(select(Source.id, Source.url))
        for i in source_intervals(session, source_id)
    }  # fmt: skip


def all_passages(session: Session) -> dict[int, str]:
    """Every stored passage's text, by id."""
    return passage_texts(session, session.scalars(select(Passage.id)))


def step_rows(session: Session) -> set[Row]:
    return {
        (s.source_id, s.indication, s.snapshot_id, s.fetched_at, s.strength, s.previous_snapshot_id)
        for s in session.scalars(select(IndicationStep))
    }


def intervals_of(session: Session, url: str, line: str) -> list[Row]:
    return sorted(
        (first_at.date().isoformat(), last_at.date().isoformat(), versions, gone_at and gone_at.date().isoformat())
        for _text, u, _f, first_at, _l, last_at, versions, _g, gone_at in index_rows(session)
        if u == url and _text == line
    )


def test_index_is_kept_on_check_with_flips_as_intervals(store: Store, settings: Settings) -> None:
    build_history(store, settings)
    with store.session() as session:
        # 統合失調症 listed 03-03 (kept through the unchanged check of 03-04), replaced 03-06, back 03-09.
        assert intervals_of(session, URL_A, "- 統合失調症") == [
            ("2026-03-03", "2026-03-03", 1, "2026-03-06"),
            ("2026-03-09", "2026-03-09", 1, None),
        ]
        # うつ病 in every version: one open interval of four versions.
        assert intervals_of(session, URL_A, "# エクソソーム点滴とうつ病") == [("2026-03-01", "2026-03-09", 4, None)]
        # Each distinct line once, however many versions and pages show it.
        texts = list(all_passages(session).values())
        assert len(texts) == len(set(texts)) and texts.count("- うつ病") == 1
        assert stale_sources(session) == []
        # Its one- and two-character terms are indexed, and no other pair of its characters.
        passage_id = next(pid for pid, text in all_passages(session).items() if text == "- うつ病")
        candidates = {"-", "う", "つ", "病", "うつ", "つ病", "-う", "病う", "つう", "x"}
        terms = {term for term in candidates if passage_id in matching_passages(session, term)}
        assert terms == {"-", "う", "つ", "病", "うつ", "つ病"}


def test_reindex_builds_what_the_write_path_built(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    ids = build_history(store, settings)
    # An archived capture older than the stored history: not the chain's end, so its source is rebuilt.
    old = Capture(
        source_id=ids.b,
        requested_url=URL_B,
        final_url=URL_B,
        fetched_at=at(-20),
        duration_ms=5,
        status=200,
        headers={"Content-Type": ["text/html; charset=utf-8"]},
        body=page("<h1>TMS therapy</h1><p>TMS therapy for 統合失調症 may help some patients.</p>").encode(),
        archive_url="https://web.archive.org/web/20260209000000id_/" + URL_B,
    )
    with store.session() as session:
        record_capture(session, old, settings=settings, on_new_version=analyse_new_version)
    with store.session() as session:
        incremental, steps = index_rows(session), step_rows(session)
        assert steps
        assert intervals_of(session, URL_B, "# TMS therapy") == [("2026-02-09", "2026-03-05", 3, None)]
        for model in (RunPassage, PassageRun, IndicationStep, PassageIndexState, Passage, PassageBlock):
            session.execute(delete(model))
        clear_terms(session)
        assert len(stale_sources(session)) == 4
        assert search(session, TERM_JA) == []
    # Resumable: one source per run, each run committed; then nothing is left and a rerun does nothing.
    first = run_cli("reindex", "--limit", "1", "--json")
    assert first.code == 0, first.err
    assert first.json()["sources_rebuilt"] == 1 and first.json()["sources_left"] == 3
    rest = run_cli("reindex")
    assert rest.code == 0 and "indexed 3 source(s)" in rest.out and "0 left" in rest.out
    again = run_cli("reindex", "--json").json()
    assert (again["sources_rebuilt"], again["sources_left"]) == (0, 0)
    with store.session() as session:
        assert index_rows(session) == incremental and step_rows(session) == steps
        assert reindex(session).sources_rebuilt == 0
        # The backfilled capture is the first to show 統合失調症 on the TMS page.
        hits = {row["source_url"]: row for row in search(session, TERM_JA)}
        assert hits[URL_B]["first_seen"][:10] == "2026-02-09" and hits[URL_B]["gone_at"][:10] == "2026-03-02"


def test_one_and_two_character_searches_give_first_seen(store: Store, settings: Settings) -> None:
    build_history(store, settings)
    with store.session() as session:
        for term in ("統", "失調"):
            assert search_method(session, term) == "terms"
            hits = {row["source_url"]: row for row in search(session, term)}
            assert set(hits) == {URL_A, URL_S}, term
            a = hits[URL_A]
            assert (a["first_seen"][:10], a["last_seen"][:10], a["versions"], a["present_now"]) == (
                "2026-03-03",
                "2026-03-09",
                2,
                True,
            )
            assert hits[URL_S]["first_seen"][:10] == "2026-03-07"
            until = {row["source_url"]: row for row in search(session, term, until=at(5) + timedelta(hours=1))}
            assert until[URL_A]["gone_at"][:10] == "2026-03-06" and until[URL_A]["versions"] == 1
        # Case folds for short English terms as for long ones; a term found by no passage finds nothing.
        assert {row["source_url"] for row in search(session, "tM")} == {URL_B}
        assert search(session, "ñ") == []
        # Which snapshots: the journalist can open the first one.
        first = {row["source_url"]: row for row in search(session, "統")}[URL_A]["first_snapshot_id"]
        assert session.get(Snapshot, first) is not None


# --- the interval algebra, without a database ---------------------------------------------------------

LINES = st.lists(st.sampled_from(["A", "B", "C", "うつ病", "統合失調症", "  B  "]), max_size=5)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=12))
def test_intervals_cover_exactly_the_versions_that_contain_a_line(versions: list[list[str]]) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    chain = [(i + 1, t0 + timedelta(days=i), "\n".join(lines) or "x") for i, lines in enumerate(versions)]
    intervals, seen = chain_intervals(chain)
    # Incremental (one version at a time, as the write path) gives the same intervals.
    open_: dict[str, Any] = {}
    stepped = []
    for snapshot_id, when, text in chain:
        stepped += advance(open_, passage_lines(text), snapshot_id, when)
    assert sorted(map(repr, stepped + list(open_.values()))) == sorted(map(repr, intervals))
    for line in seen:
        present = {sid for sid, _when, text in chain if line in {x.strip() for x in text.split("\n")}}
        covered: set[int] = set()
        for interval in (i for i in intervals if i.line == line):
            span = set(range(interval.first_snapshot_id, interval.last_snapshot_id + 1))
            assert len(span) == interval.versions and not span & covered  # no overlap
            covered |= span
            # Gone with the next version, or still open at the end.
            assert interval.gone_snapshot_id == (
                interval.last_snapshot_id + 1 if interval.last_snapshot_id < len(chain) else None
            )
        assert covered == present


def test_short_terms() -> None:
    assert short_terms("TMS 療法") == {"t", "m", "s", "療", "法", "tm", "ms", "療法"}


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text() | st.sampled_from(["", " \u3000 ", "İstanbul Ǆ", "ＡＢ　ｃ療法", "a\u00a0b\U0001f600c", "TMS 療法"]))
def test_term_document_is_the_tokens_of_the_short_terms_in_order(line: str) -> None:
    assert term_document(line) == " ".join(term_token(term) for term in sorted(short_terms(line)))


def test_indication_steps_answer_as_the_scan_of_every_profile(store: Store, settings: Settings) -> None:
    build_history(store, settings)
    with store.session() as session:
        for indication in ("schizophrenia", "depression", "anxiety"):
            for clinic_id in (None, 1):
                indexed = list(_indication_rows(session, clinic_id=clinic_id, indication=indication))
                scanned = list(_scanned_indication_rows(session, clinic_id=clinic_id, indication=indication))
                assert indexed == scanned and (indexed or indication == "anxiety"), indication
        timelines = claim_timelines(session, indication="統合失調症")["timelines"]
        assert [t["first_claimed"]["at"][:10] for t in timelines] == ["2026-03-03"]


def test_pages_not_indexed_yet_are_read_the_slow_way_and_searches_say_so(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A store upgraded to the index, partly reindexed: the claim timelines of one indication must not
    miss the pages not indexed yet, and a search warns that they are not searched."""
    ids = build_history(store, settings)
    with store.session() as session:
        assert not index_incomplete(session)
        for model in (PassageRun, IndicationStep, PassageIndexState):
            session.execute(delete(model).where(model.source_id == ids.b))
    with store.session() as session:
        assert index_incomplete(session)
        rows = list(_indication_rows(session, clinic_id=None, indication="schizophrenia"))
        assert rows and rows == list(_scanned_indication_rows(session, clinic_id=None, indication="schizophrenia"))
        with caplog.at_level(logging.WARNING, logger="watcher.search"):
            search(session, TERM_JA)
        assert "watcher reindex" in caplog.text
        reindex(session)
        assert not index_incomplete(session)


def test_steps_appended_for_a_new_version_equal_a_rebuild_also_after_a_late_profile(
    store: Store, settings: Settings
) -> None:
    """A version appended at a page's end adds its indication steps to those stored (``append_steps``);
    when an earlier version was profiled after the steps were built (here: its profile was of an older
    analyser, so the steps left it out, and the new version's analysis profiles it again), the steps are
    rebuilt whole instead. Either way they equal a rebuild from every profile."""
    with store.session() as session:
        a = add_sources(session, [SourceSpec(url=URL_A)])[0].id
    capture(store, settings, a, URL_A, 0, A_V1)
    capture(store, settings, a, URL_A, 2, A_V2)
    with store.session() as session:
        appended = step_rows(session)
        rebuild_source(session, a)
        assert step_rows(session) == appended and appended
        v2 = session.scalars(select(TextVersion.id).where(TextVersion.source_id == a).order_by(TextVersion.id)).all()[
            -1
        ]
        session.execute(
            update(ClaimProfileRecord).where(ClaimProfileRecord.text_version_id == v2).values(analyser_version="old")
        )
        rebuild_source(session, a)  # the steps of the current analyser: v2 left out
        without_v2 = step_rows(session)
    capture(store, settings, a, URL_A, 5, A_V3)  # profiles v2 again (the previous version) and v3
    with store.session() as session:
        written = step_rows(session)
        rebuild_source(session, a)
        rebuilt = step_rows(session)
    assert written == rebuilt
    # v2 (depression proven, schizophrenia listed) has its steps again, as in the rebuild.
    assert {row[2] for row in rebuilt} - {row[2] for row in without_v2}


def test_a_changed_page_is_recorded_without_row_by_row_updates(store: Store, settings: Settings) -> None:
    """A new version of a known page: its check is one INSERT (not INSERT then UPDATEs), the open
    runs are extended and closed by one UPDATE each at most (not one per passage), the runs split off
    and started by one INSERT, the index state is updated once, and its alerts' identities are read by
    one query."""
    with store.session() as session:
        a = add_sources(session, [SourceSpec(url=URL_A)])[0].id
    capture(store, settings, a, URL_A, 0, A_V1)
    statements: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(store.engine, "before_cursor_execute", log)
    try:
        capture(store, settings, a, URL_A, 2, A_V2)
    finally:
        event.remove(store.engine, "before_cursor_execute", log)

    def count(prefix: str) -> int:
        return sum(statement.startswith(prefix) for statement in statements)

    assert count("insert into checks") == 1 and count("update checks") == 0
    assert count("update passage_runs set last_snapshot_id") == 1
    assert count("update passage_runs set gone_snapshot_id") <= 1
    assert count("insert into passage_runs") == 1 and count("delete from run_passages") == 1
    assert count("update passage_index_state") == 1
    assert count("insert into alerts") >= 1  # depression possible -> proven: alerts were raised
    # one read of the alerts' identities (SQLite also reads max(id) to number the new alerts: not a lookup)
    assert sum("from alerts" in statement and "max(alerts.id)" not in statement for statement in statements) == 1


def test_later_profiles_keeps_each_pages_own_bound(store: Store, settings: Settings) -> None:
    """The profiles after a given one are read for many pages by one statement bounded by their
    smallest profile id: a page with a larger bound gets none of its profiles up to that bound."""
    with store.session() as session:
        a, b = (source.id for source in add_sources(session, [SourceSpec(url=URL_A), SourceSpec(url=URL_B)]))
    for day, html in enumerate((A_V1, A_V2, A_V3)):
        capture(store, settings, a, URL_A, day, html)
        capture(store, settings, b, URL_B, day, html)
    with store.session() as session:
        ids = {
            source: session.scalars(
                select(ClaimProfileRecord.id)
                .where(ClaimProfileRecord.source_id == source)
                .order_by(ClaimProfileRecord.id)
            ).all()
            for source in (a, b)
        }
        assert len(ids[a]) == len(ids[b]) == 3
        # b's bound is its second profile: only its third one is later; a's first bound is below all of b's.
        later = _later_profiles(session, [(a, ids[a][0]), (b, ids[b][1]), (a, ids[a][1])])
    assert {source: sorted(row.id for row in rows) for source, rows in later.items()} == {
        a: ids[a][1:],
        b: ids[b][2:],
    }
