"""`watcher search`: full-text search over every stored version, Japanese without spaces included;
first/last seen and version counts as a term appears, disappears and reappears. One- and
two-character terms as posting lists (SQLite: an FTS5 table; PostgreSQL: a GIN expression index),
longer terms through the same lists (every pair of the term) and a check of the passages' text."""

from __future__ import annotations

from history_factory import AOBA, TERM_JA, URL_A, URL_B, URL_N, URL_S, build_history, page
from sqlalchemy import text

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Passage
from watcher.pipeline.passages import (
    next_key,
    passage_ids,
    passage_key,
    passage_lines,
    passage_texts,
    short_terms,
    store_passages,
)
from watcher.search import excerpt, like_pattern, matching_passages, pair_terms, search, search_method


def by_url(rows: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {row["source_url"]: row for row in rows}


def test_japanese_term_appears_disappears_reappears(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    build_history(store, settings)
    result = run_cli("search", TERM_JA, "--json")
    assert result.code == 0, result.err
    hits = by_url(result.json())
    assert set(hits) == {URL_A, URL_S}
    a = hits[URL_A]
    assert set(a) >= {
        "source_url",
        "clinic",
        "first_seen",
        "last_seen",
        "versions",
        "excerpt",
        "source_id",
        "first_snapshot_id",
        "last_snapshot_id",
    }
    assert a["clinic"] == AOBA
    assert (a["first_seen"][:10], a["last_seen"][:10], a["versions"]) == ("2026-03-03", "2026-03-09", 2)
    assert a["present_now"] is True and a["gone_at"] is None and TERM_JA in a["excerpt"]
    assert a["first_snapshot_id"] < a["last_snapshot_id"]
    # Until 6 March: seen once, and gone with the version of 6 March.
    until = by_url(run_cli("search", TERM_JA, "--until", "2026-03-06", "--json").json())
    assert set(until) == {URL_A}
    assert (until[URL_A]["last_seen"][:10], until[URL_A]["versions"]) == ("2026-03-03", 1)
    assert until[URL_A]["present_now"] is False and until[URL_A]["gone_at"][:10] == "2026-03-06"
    since = by_url(run_cli("search", TERM_JA, "--since", "2026-03-07", "--json").json())
    assert since[URL_A]["versions"] == 1 and since[URL_A]["first_seen"][:10] == "2026-03-09"
    assert since[URL_S]["first_seen"][:10] == "2026-03-07"
    text_out = run_cli("search", TERM_JA, "--clinic", AOBA.lower())
    assert "first seen 2026-03-03 09:00:00" in text_out.out and "in 2 version(s); still there" in text_out.out
    assert run_cli("search", TERM_JA, "--clinic", "Birch TMS Center", "--json").json() == []
    unknown = run_cli("search", TERM_JA, "--clinic", "Nobody")
    assert unknown.code == 2 and "no clinic named 'Nobody'" in unknown.err


def test_english_phrase_short_terms_and_escaping(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    build_history(store, settings)
    with store.session() as session:
        postgres = session.connection().dialect.name == "postgresql"
        assert search_method(session, "clinically proven") == "pairs"
        phrase = by_url(search(session, "Clinically PROVEN"))
        assert set(phrase) == {URL_B} and phrase[URL_B]["versions"] == 1
        assert phrase[URL_B]["first_seen"][:10] == "2026-03-05" and "clinically proven" in phrase[URL_B]["excerpt"]
        # Words present but not as a phrase do not match.
        assert search(session, "proven clinically") == []
        # Short terms use one posting list of the term table: うつ is in every version of the Aoba page.
        assert search_method(session, "うつ") == search_method(session, "A") == "terms"
        short = by_url(search(session, "うつ"))
        assert short[URL_A]["versions"] == 4 and short[URL_A]["first_seen"][:10] == "2026-03-01"
        assert URL_B not in short
        # LIKE wildcards and FTS5 syntax are literal text.
        assert set(by_url(search(session, "%"))) == {URL_B, URL_N}
        assert set(by_url(search(session, "a_b"))) == {URL_N}
        assert search(session, "a%b") == [] and search(session, "_%_") == []
        for syntax in ('"', 'depression" OR "TMS', "NEAR(TMS depression)", "TMS*", "-x", "^TMS"):
            assert search(session, syntax) == [], syntax
        assert set(by_url(search(session, "TMS therapy"))) == {URL_B}
        if postgres:  # the planner hint of a search does not outlive it
            assert session.execute(text("SELECT current_setting('enable_seqscan')")).scalar_one() == "on"
    empty = run_cli("search", "   ")
    assert empty.code == 2 and "empty" in empty.err
    nothing = run_cli("search", "存在しない語句")
    assert nothing.code == 0 and nothing.out == "" and "no stored version contains" in nothing.err


def test_index_follows_new_versions(store: Store, settings: Settings) -> None:
    from history_factory import capture, page

    ids = build_history(store, settings)
    capture(
        store, settings, ids.b, URL_B, 10, page("<h1>TMS therapy</h1><p>TMS for 強迫性障害 may help some patients.</p>")
    )
    with store.session() as session:
        assert by_url(search(session, "強迫性障害"))[URL_B]["versions"] == 1
        # Deleted snapshots are no longer found, though their intervals are still indexed.
        session.execute(text("DELETE FROM snapshots WHERE source_id = :s"), {"s": ids.b})
        assert search(session, "強迫性障害") == []


TRICKY_LINES = (
    "a-b 1.5 mg",
    "Ａ－Ｂ　全角，句読点。",
    '"quoted" AND (x OR y) NOT z*',
    "タブ\tの後 ^ と * と : と -",
    "Ümlaut ÜBER straße ǅ",
    "💊 emoji 🧠",
    "行1 / 行2 | \\ back",
)


def _substrings(line: str, size: int) -> set[str]:
    return {line[i : i + size] for i in range(len(line) - size + 1)}


def test_terms_of_any_characters_match_exactly(store: Store) -> None:
    """Lookups of one and two characters (SQLite's FTS5 term table, PostgreSQL's GIN over the terms of
    passages.text) and longer ones (the same lists, every pair of the term, then the text) find exactly
    the passages containing the term, whatever its characters: punctuation, FTS5 syntax, full-width
    separators, combining case, emoji, spaces inside."""
    with store.session() as session:
        found = passage_lines("\n".join(TRICKY_LINES))
        ids = passage_ids(session, found)
        lines = {ids[line]: line for line in found}
        short = set().union(*(short_terms(line) for line in TRICKY_LINES)) | {"zz", '""', "**", "é"}
        longer = set().union(*(_substrings(line, n) for line in TRICKY_LINES for n in (3, 4, 7)))
        longer |= {"a b", "1 . 5", "x or", "straSSE", "ümLAUT üb", "a-c", "🧠 emoji", "全角，", "ab1"}
        for term in sorted(short | longer):
            if term.strip() != term:
                continue  # a search term is stripped: never looked up with whitespace at an end
            expected = {pid for pid, line in lines.items() if term.lower() in line.lower()}
            assert search_method(session, term) == ("terms" if len(term) < 3 else "pairs")
            assert matching_passages(session, term) == expected, term
            if term.upper().lower() == term.lower():  # not ß → SS (a longer, other term)
                assert matching_passages(session, term.upper()) == expected, term


def test_colliding_keys_keep_each_line(store: Store) -> None:
    """A line whose key other lines hold (a 64-bit collision, made here by storing strangers at the key
    and the next one) goes to the next free key, is found there again by its text, and searches find it
    alone."""
    line = "TMS治療の説明"
    with store.session() as session:
        key = passage_key(line)
        store_passages(session, [(key, "まったく別の行"), (key + 1, "次の鍵の行")])
        ids = passage_ids(session, [line, "無関係な行"])
        stored = session.get(Passage, key + 2)
        assert stored is not None and stored.id == ids[line]
        assert passage_texts(session, [ids[line]]) == {ids[line]: line}
        assert passage_ids(session, [line]) == {line: ids[line]}
        assert session.query(Passage).count() == 4
        assert matching_passages(session, "TMS治療") == {ids[line]} == matching_passages(session, "の説")


def test_helpers() -> None:
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"
    assert excerpt("a" * 100 + "統合失調症" + "b" * 100, "統合失調症", width=5) == "…aaaaa統合失調症bbbbb…"
    assert excerpt("line one\nTMS", "tms") == "line one / TMS"
    assert pair_terms("tms 療法") == {"tm", "ms", "療法"}
    assert pair_terms("a b c") == {"a", "b", "c"}
    assert next_key(5) == 6 and next_key(2**63 - 1) == -(2**63)


def test_bounds_within_a_second_are_exact(store: Store, settings: Settings) -> None:
    """Memberships keep their first capture time to the second (``SecondUTCDateTime``); a search whose
    bounds fall inside that second still answers to the microsecond: pages captured 0.2 s and 0.7 s past
    one second, bounded at 0.4 s."""
    from datetime import UTC, datetime, timedelta

    from watcher.capture import Capture
    from watcher.pipeline.analyse import analyse_new_version
    from watcher.pipeline.record import record_capture
    from watcher.sources import SourceSpec, add_sources

    base = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    urls = ("https://early.example/a", "https://late.example/a")
    with store.session() as session:
        ids = [source.id for source in add_sources(session, [SourceSpec(url=url) for url in urls])]
    for source_id, url, tenths in zip(ids, urls, (2, 7), strict=True):
        with store.session() as session:
            body = page(
                f"<h1>治療のご案内</h1><p>{TERM_JA}の治療について、当院の方針をご説明します。</p>"
                "<p>初診の方は予約のうえ、保険証とお薬手帳をお持ちください。診察は予約制です。</p>"
            )
            capture = Capture(
                source_id=source_id, requested_url=url, final_url=url, fetched_at=base + timedelta(seconds=tenths / 10),
                duration_ms=5, status=200, headers={"Content-Type": ["text/html; charset=utf-8"]}, body=body.encode(),
            )  # fmt: skip
            record_capture(session, capture, settings=settings, on_new_version=analyse_new_version)
    bound = base + timedelta(milliseconds=400)
    with store.session() as session:
        assert [row["source_url"] for row in search(session, TERM_JA)] == list(urls)
        assert [row["source_url"] for row in search(session, TERM_JA, until=bound)] == [urls[0]]
        assert [row["source_url"] for row in search(session, TERM_JA, since=bound)] == [urls[1]]
