from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, bindparam, func, inspect, select, text
from sqlalchemy.orm import Session

from watcher.db import current_revision, downgrade, head_revision, make_engine, scripts_head_revision, upgrade
from watcher.models import (
    Base,
    Body,
    Change,
    Check,
    ClaimProfileRecord,
    CompactUTCDateTime,
    Requisite,
    Snapshot,
    TextVersion,
    raw_bytes,
)
from watcher.pipeline.passages import passage_key, passage_texts, short_terms, source_intervals, term_document
from watcher.search import matching_passages
from watcher.search_index import TERMS_TABLE, include_object_for


def test_upgrade_downgrade_upgrade_and_no_drift(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_object": include_object_for(connection.dialect.name)}
            drift = compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        engine.dispose()


def test_store_migrates_on_first_use(database_url: str) -> None:
    from watcher.db import Store

    store = Store(database_url)
    try:
        assert current_revision(store.engine) == head_revision()
        assert "sources" in inspect(store.engine).get_table_names()
    finally:
        store.dispose()


PROFILE = {"indications": {"depression": {"strength": 3, "evidence": ["うつ病の症状を改善します。"]}}}
OPS = [[0, 12], [-1, "可能性があります"], [1, "証明されています"]]


def _insert_captures_at_0010(connection: Connection, pages: list[bytes]) -> list[str]:
    """Store as revision 0010 did: each snapshot with its own zlib copy; one page requisite; a text
    version, a check and a claim profile per snapshot (rows that refer to the snapshots the migration
    rebuilds, and the profiles 0013 compresses); a stored diff between the first two."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    connection.execute(text("INSERT INTO sources (id, url, kind, interval_seconds, active, created_at, render, "
                            "screenshot, requisites) VALUES (1, 'https://clinic.example/p', 'page', 86400, :t, :now, "
                            ":f, :f, :t)"), {"now": now, "t": True, "f": False})  # fmt: skip
    digests = []
    for number, page in enumerate(pages, start=1):
        digest = hashlib.sha256(page).hexdigest()
        digests.append(digest)
        connection.execute(
            text("INSERT INTO snapshots (id, source_id, fetched_at, requested_url, final_url, http_status, headers, "
                 "sha256, size, compression, raw) VALUES (:id, 1, :at, 'https://clinic.example/p', "
                 "'https://clinic.example/p', 200, '{}', :sha, :size, 'zlib', :raw)"),
            {"id": number, "at": now + timedelta(days=number), "sha": digest, "size": len(page),
             "raw": zlib.compress(page)},
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO text_versions (snapshot_id, source_id, extractor_version, text, text_sha256, "
                 "created_at) VALUES (:id, 1, 'x', 'text', :sha, :now)"), {"id": number, "now": now, "sha": "0" * 64}
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO checks (source_id, checked_at, outcome, snapshot_id) VALUES (1, :now, 'changed', :id)"),
            {"id": number, "now": now},
        )
        connection.execute(
            text("INSERT INTO claim_profiles (text_version_id, source_id, analyser_version, profile, indications, "
                 "reference_count, created_at) VALUES (:id, 1, '1.3.0', :profile, '{}', 0, :now)"),
            {"id": number, "profile": json.dumps(PROFILE), "now": now},
        )  # fmt: skip
    connection.execute(
        text("INSERT INTO changes (source_id, old_version_id, new_version_id, inserted_chars, deleted_chars, ops, "
             "diff_seconds, created_at) VALUES (1, 1, 2, 8, 8, :ops, 0.01, :now)"),
        {"ops": json.dumps(OPS), "now": now},
    )  # fmt: skip
    style = b"body { color: black }"
    connection.execute(
        text("INSERT INTO requisites (id, url, url_sha256, fetched_at, http_status, headers, sha256, size, "
             "compression, raw) VALUES (1, 'https://clinic.example/s.css', 'u', :now, 200, '{}', :sha, :size, "
             "'none', :raw)"),
        {"now": now, "sha": hashlib.sha256(style).hexdigest(), "size": len(style), "raw": style},
    )  # fmt: skip
    connection.execute(text("INSERT INTO snapshot_requisites VALUES (1, 1, :now)"), {"now": now})
    return digests


def test_bodies_migration_moves_bytes_both_ways(database_url: str) -> None:
    """0012 moves every stored body into ``bodies`` once per SHA-256 (A→B→A: two rows), every
    snapshot and the rows referring to them stay, and the downgrade puts the same bytes back; 0013
    compresses claim profiles and stored diffs and gives them back."""
    pages = [b"<html>A</html>" * 50, b"<html>B</html>" * 50, b"<html>A</html>" * 50]
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            _insert_captures_at_0010(connection, pages)
        upgrade(engine)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Body)) == 3  # A, B and the stylesheet
            snapshots = session.scalars(select(Snapshot).order_by(Snapshot.id)).all()
            assert [raw_bytes(s) for s in snapshots] == pages
            assert snapshots[0].body is snapshots[2].body
            assert raw_bytes(session.scalars(select(Requisite)).one()) == b"body { color: black }"
            assert session.scalar(select(func.count()).select_from(TextVersion)) == 3
            assert list(session.scalars(select(ClaimProfileRecord.profile))) == [PROFILE] * 3
            assert session.scalars(select(Change.ops)).one() == OPS
            assert session.scalar(select(func.count()).select_from(Check).where(Check.snapshot_id.is_not(None))) == 3
        downgrade(engine, "0010")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT compression, raw FROM snapshots ORDER BY id")).all()
            assert [zlib.decompress(raw) for compression, raw in rows] == pages
            assert {compression for compression, _ in rows} == {"zlib"}
            assert connection.execute(text("SELECT compression, raw FROM requisites")).one() == (
                "none",
                b"body { color: black }",
            )
            assert connection.scalar(text("SELECT COUNT(*) FROM text_versions")) == 3
            profiles = connection.execute(text("SELECT profile FROM claim_profiles")).scalars().all()
            assert [json.loads(p) if isinstance(p, str) else p for p in profiles] == [PROFILE] * 3
            ops = connection.execute(text("SELECT ops FROM changes")).scalar_one()
            assert (json.loads(ops) if isinstance(ops, str) else ops) == OPS
            assert "bodies" not in inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_passage_index_replaces_the_per_version_index(database_url: str) -> None:
    """0014 drops the per-version full-text index for the passage index; its downgrade brings it back.
    (0017 drops the passages' trigram index in turn.)"""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0016")

        def indexed() -> tuple[bool, bool]:
            inspector = inspect(engine)
            tables = set(inspector.get_table_names())
            if engine.dialect.name == "sqlite":
                return "text_versions_fts" in tables, {"passages", "passages_fts"} <= tables
            old = "ix_text_versions_text_trgm" in {i["name"] for i in inspector.get_indexes("text_versions")}
            new = "passages" in tables and "ix_passages_text_trgm" in {
                i["name"] for i in inspector.get_indexes("passages")
            }
            return old, new

        assert indexed() == (False, True)
        downgrade(engine, "0010")
        assert indexed() == (True, False)
        upgrade(engine, "0016")
        assert indexed() == (False, True)
        upgrade(engine)
        assert indexed() == (False, False)
        downgrade(engine, "0016")
        assert indexed() == (False, True)
    finally:
        engine.dispose()


def test_scripts_head_is_alembics_head() -> None:
    assert scripts_head_revision() == head_revision()


def test_check_loads_alembic_only_when_the_schema_must_move(database_url: str) -> None:
    probe = (
        "import sys\n"
        "from watcher.cli import main\n"
        "status = main(['check', '--json'])\n"  # no sources: exit 2, after opening the store
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'fastapi', 'jinja2'}))\n"
    )
    env = {**os.environ, "WATCHER_DATABASE_URL": database_url}
    repo = Path(__file__).resolve().parent.parent

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=repo, capture_output=True, text=True, timeout=120, check=False
        )
        assert "no sources to check" in done.stderr, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert loaded() == "['alembic', 'mako']"  # a fresh database: migrated, through Alembic
    assert loaded() == "[]"  # current: one query, no Alembic, and no web stack


def _stored_texts(connection: Connection) -> list[Any]:
    return list(connection.execute(text("SELECT text FROM text_versions ORDER BY snapshot_id")).scalars())


TEXTS = ["うつ病の治療について\n当院では認知行動療法を行います。", "", "English line\n" * 400]


def test_text_compression_migration_is_lossless_both_ways(database_url: str) -> None:
    """0015 compresses every extracted text (read back identical through the ORM, stored as zlib) and
    its downgrade gives the same text back."""
    from watcher.models import inflate  # either format: 0021 writes the texts again with a dictionary

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            _insert_captures_at_0010(connection, [b"<html>A</html>", b"<html>B</html>", b"<html>C</html>"])
        upgrade(engine, "0014")
        with engine.begin() as connection:
            for number, body in enumerate(TEXTS, start=1):
                connection.execute(text("UPDATE text_versions SET text = :text WHERE snapshot_id = :id"),
                                   {"text": body, "id": number})  # fmt: skip
        upgrade(engine)
        with Session(engine) as session:
            assert list(session.scalars(select(TextVersion.text).order_by(TextVersion.snapshot_id))) == TEXTS
        with engine.connect() as connection:
            stored = _stored_texts(connection)
            assert [inflate(data).decode("utf-8") for data in stored] == TEXTS
            assert len(stored[2]) < len(TEXTS[2]) // 10
        downgrade(engine, "0014")
        with engine.connect() as connection:
            assert _stored_texts(connection) == TEXTS
    finally:
        engine.dispose()


def test_compressed_text_reads_back_identical(database_url: str) -> None:
    """A text version written through the ORM is stored compressed and reads back the same text."""
    from watcher.models import inflate

    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            session.execute(text("INSERT INTO sources (id, url, kind, interval_seconds, active, created_at, render, "
                                 "screenshot, requisites) VALUES (1, 'https://clinic.example/p', 'page', 86400, :t, "
                                 ":now, :f, :f, :t)"), {"now": datetime(2026, 1, 1, tzinfo=UTC), "t": True, "f": False})  # fmt: skip
            for number, body in enumerate(TEXTS, start=1):
                session.add(Body(sha256=f"{number:064d}", size=1, compression="none", data=b"x"))
                session.add(Snapshot(id=number, source_id=1, fetched_at=datetime(2026, 1, number, tzinfo=UTC),
                                     requested_url="u", final_url="u", http_status=200, headers={},
                                     sha256=f"{number:064d}", size=1))  # fmt: skip
                session.add(TextVersion(snapshot_id=number, source_id=1, extractor_version="x", text=body,
                                        text_sha256=hashlib.sha256(body.encode()).hexdigest()))  # fmt: skip
            session.commit()
        with Session(engine) as session:
            assert list(session.scalars(select(TextVersion.text).order_by(TextVersion.snapshot_id))) == TEXTS
            stored = _stored_texts(session.connection())
            assert [inflate(data).decode("utf-8") for data in stored] == TEXTS
    finally:
        engine.dispose()


TERM_LINES = ["- うつ病", "a-b 1.5 mg", "Ａ－Ｂ　全角。", '"x" AND y*']


def _hex_key(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _matching_lines(session: Session, term: str) -> set[str]:
    """The lines a search finds for a term, by text (migration 0020 gives the passages new ids)."""
    return set(passage_texts(session, matching_passages(session, term)).values())


def _store_old_terms(connection: Connection, lines: dict[int, str]) -> None:
    """SQLite: the passages' terms as the write path of migrations 0016 to 0019 stored them, one document
    per passage (PostgreSQL's index over the passages follows them by itself)."""
    if connection.dialect.name == "sqlite":
        connection.execute(
            text(f"INSERT INTO {TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)"),
            [{"id": number, "terms": term_document(line)} for number, line in lines.items()],
        )


def _terms_table(connection: Connection) -> set[tuple[str, int]]:
    return {(term, pid) for term, pid in connection.execute(text("SELECT term, passage_id FROM passage_terms"))}


def test_term_posting_lists_migration_both_ways(database_url: str) -> None:
    """0016 moves the short terms of 0014's passage_terms into posting lists (search finds the same
    passages) and drops the table; its downgrade rebuilds the same rows."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0015")
        with engine.begin() as connection:
            for number, line in enumerate(TERM_LINES, start=1):
                connection.execute(text("INSERT INTO passages (id, sha256, text) VALUES (:id, :sha, :text)"),
                                   {"id": number, "sha": _hex_key(line), "text": line})  # fmt: skip
                connection.execute(
                    text("INSERT INTO passage_terms (term, passage_id) VALUES (:term, :id)"),
                    [{"term": term, "id": number} for term in short_terms(line)],
                )
            rows = _terms_table(connection)
        upgrade(engine)
        with Session(engine) as session:
            assert "passage_terms" not in inspect(session.connection()).get_table_names()
            for term in sorted({term for term, _id in rows}):
                assert _matching_lines(session, term) == {TERM_LINES[pid - 1] for t, pid in rows if t == term}, term
        downgrade(engine, "0015")
        with engine.connect() as connection:
            assert _terms_table(connection) == rows
            assert "terms" not in {c["name"] for c in inspect(connection).get_columns("passages")}
    finally:
        engine.dispose()


def test_compact_passage_keys_migration_both_ways(database_url: str) -> None:
    """0017 gives every passage its 8-byte key, keeps the ids and texts, answers searches of three
    characters and more through the term lists of 0016 and drops the trigram index; its downgrade brings
    back the hex keys."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0016")
        lines = dict(enumerate([*TERM_LINES, "統合失調症の治療", "Clinically proven TMS"], start=1))
        with engine.begin() as connection:
            for number, line in lines.items():
                connection.execute(text("INSERT INTO passages (id, sha256, text) VALUES (:id, :sha, :text)"),
                                   {"id": number, "sha": _hex_key(line), "text": line})  # fmt: skip
            _store_old_terms(connection, lines)
        upgrade(engine, "0019")
        with engine.connect() as connection:
            assert dict(connection.execute(text("SELECT id, key FROM passages")).all()) == {
                number: passage_key(line) for number, line in lines.items()
            }
        upgrade(engine)
        with Session(engine) as session:
            for term in ("失調症", "proven tms", "1.5 mg", "ｂ　全", "AND y*", "うつ"):
                expected = {line for line in lines.values() if term.lower() in line.lower()}
                assert expected and _matching_lines(session, term) == expected, term
        downgrade(engine, "0016")
        with engine.connect() as connection:
            assert dict(connection.execute(text("SELECT id, sha256 FROM passages")).all()) == {
                number: _hex_key(line) for number, line in lines.items()
            }
    finally:
        engine.dispose()


AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
BEFORE_1970 = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)  # the conversion floors, not truncates
OCCURRENCE_ROWS = [  # passage, source, first snapshot, first seen, last snapshot, last seen, versions, gone
    (1, 1, 10, AT, 12, AT + timedelta(days=1), 3, 13, AT + timedelta(days=2, microseconds=1)),
    (2, 1, 10, AT, 13, AT + timedelta(days=2, microseconds=1), 4, None, None),
    (1, 2, 20, BEFORE_1970, 20, BEFORE_1970, 1, None, None),
]
STEP_ROWS = [  # id, source, indication, snapshot, fetched at, strength, previous snapshot, previous fetched at
    (1, 1, "depression", 10, AT, 2, None, None),
    (2, 1, "depression", 12, AT + timedelta(days=1), 3, 10, AT),
    (3, 1, "anxiety", 10, AT, 2, None, None),
    (4, 2, "depression", 20, BEFORE_1970, 1, None, None),
]


def _interval_rows(session: Session, source_ids: list[int]) -> list[tuple[Any, ...]]:
    """The sources' intervals as rows of 0019's ``passage_occurrences`` with the passage's text for its
    id (line, source, first snapshot, first seen, last snapshot, last seen, versions, gone), sorted."""
    return sorted(
        (i.line, source_id, i.first_snapshot_id, i.first_seen, i.last_snapshot_id, i.last_seen, i.versions,
         i.gone_snapshot_id, i.gone_at)
        for source_id in source_ids
        for i in source_intervals(session, source_id)
    )  # fmt: skip


def _dated(sql: str) -> Any:
    """A statement whose date parameters are bound as revision 0017 stored them (UTCDateTime)."""
    from watcher.models import UTCDateTime

    names = ("first_seen", "last_seen", "gone_at", "fetched_at", "previous_fetched_at")
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names if f":{name}" in sql))


def _raw_index_rows(connection: Connection) -> tuple[list[Any], list[Any]]:
    occurrences = connection.execute(text("SELECT * FROM passage_occurrences ORDER BY passage_id, source_id")).all()
    steps = connection.execute(
        text("SELECT source_id, indication, snapshot_id, fetched_at, strength, previous_snapshot_id, "
             "previous_fetched_at FROM indication_steps ORDER BY indication, snapshot_id")
    ).all()  # fmt: skip
    return [tuple(row) for row in occurrences], [tuple(row) for row in steps]


def test_compact_dates_and_clustered_steps_migration_both_ways(database_url: str) -> None:
    """0018 stores the intervals' and steps' dates as integers on SQLite (exact to the microsecond, also
    before 1970) and keys the steps by (indication, date, snapshot); the models read the same rows back
    (the intervals from the runs 0020 groups them into), the claim timeline of one indication reads them
    in order, and the downgrade restores every value."""
    from watcher.models import IndicationStep
    from watcher.queries.claims import claim_timelines

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0017")
        with engine.begin() as connection:
            for source in (1, 2):
                connection.execute(text("INSERT INTO sources (id, url, kind, interval_seconds, active, created_at, "
                                        "render, screenshot, requisites) VALUES (:id, :url, 'page', 86400, :t, :now, "
                                        ":f, :f, :f)"),
                                   {"id": source, "url": f"https://clinic.example/{source}", "now": AT, "t": True,
                                    "f": False})  # fmt: skip
            lines = dict(enumerate(("うつ病の治療", "Clinically proven"), start=1))
            for number, line in lines.items():
                connection.execute(text("INSERT INTO passages (id, key, text) VALUES (:id, :key, :text)"),
                                   {"id": number, "key": passage_key(line), "text": line})  # fmt: skip
            connection.execute(
                _dated("INSERT INTO passage_occurrences VALUES (:passage_id, :source_id, :first_snapshot_id, "
                       ":first_seen, :last_snapshot_id, :last_seen, :versions, :gone_snapshot_id, :gone_at)"),
                [dict(zip(OCCURRENCE_COLUMNS, row, strict=True)) for row in OCCURRENCE_ROWS],
            )  # fmt: skip
            connection.execute(
                _dated("INSERT INTO indication_steps (id, source_id, indication, snapshot_id, fetched_at, strength, "
                       "previous_snapshot_id, previous_fetched_at) VALUES (:id, :source_id, :indication, "
                       ":snapshot_id, :fetched_at, :strength, :previous_snapshot_id, :previous_fetched_at)"),
                [dict(zip(("id", *STEP_FIELDS), row, strict=True)) for row in STEP_ROWS],
            )  # fmt: skip
            stored = _raw_index_rows(connection)
        upgrade(engine)
        with Session(engine) as session:
            assert _interval_rows(session, [1, 2]) == sorted((lines[row[0]], *row[1:]) for row in OCCURRENCE_ROWS)
            steps = session.scalars(select(IndicationStep).order_by("indication", "snapshot_id")).all()
            assert [tuple(getattr(s, c) for c in STEP_FIELDS) for s in steps] == sorted(
                (row[1:] for row in STEP_ROWS), key=lambda row: (row[1], row[2])
            )
            timeline = claim_timelines(session, indication="depression")
            assert [[(s["source_id"], s["snapshot_id"]) for s in t["steps"]] for t in timeline["timelines"]] == [
                [(2, 20)],
                [(1, 10), (1, 12)],
            ], timeline
            if database_url.startswith("sqlite"):
                kinds = session.execute(text("SELECT DISTINCT typeof(first_seen), typeof(last_seen) "
                                             "FROM passage_runs")).all()  # fmt: skip
                assert kinds == [("integer", "integer")]
                ddl = session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'indication_steps'"))
                assert "WITHOUT ROWID" in ddl
        downgrade(engine, "0017")
        with engine.connect() as connection:
            assert _raw_index_rows(connection) == stored
            ids = connection.execute(text("SELECT id FROM indication_steps ORDER BY id")).scalars().all()
            assert ids == [1, 2, 3, 4]
    finally:
        engine.dispose()


OCCURRENCE_COLUMNS = ("passage_id", "source_id", "first_snapshot_id", "first_seen", "last_snapshot_id", "last_seen",
                      "versions", "gone_snapshot_id", "gone_at")  # fmt: skip
STEP_FIELDS = ("source_id", "indication", "snapshot_id", "fetched_at", "strength", "previous_snapshot_id",
               "previous_fetched_at")  # fmt: skip


def test_profiles_take_the_preset_dictionary_and_give_it_back(database_url: str) -> None:
    """0018 writes the stored claim profiles again with the preset dictionary (a format byte, then raw
    deflate: smaller), the model reads both kinds of row, and the downgrade writes plain zlib again."""
    from watcher.zdicts import PROFILE as PROFILE_DICTIONARY

    pages = [b"<html>A</html>" * 50, b"<html>B</html>" * 50]
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            _insert_captures_at_0010(connection, pages)
        upgrade(engine, "0017")
        with engine.connect() as connection:
            plain = connection.execute(text("SELECT profile FROM claim_profiles ORDER BY id")).scalars().all()
        upgrade(engine)
        with Session(engine) as session:
            stored = session.execute(text("SELECT profile FROM claim_profiles ORDER BY id")).scalars().all()
            assert [data[0] for data in stored] == [PROFILE_DICTIONARY] * 2
            assert all(len(new) < len(old) for new, old in zip(stored, plain, strict=True))
            assert list(session.scalars(select(ClaimProfileRecord.profile))) == [PROFILE] * 2
            # A row as 0013 to 0017 wrote it still reads (plain zlib, recognised by its first byte).
            session.execute(text("UPDATE claim_profiles SET profile = :old WHERE id = 1"), {"old": plain[0]})
            session.expire_all()
            assert list(session.scalars(select(ClaimProfileRecord.profile))) == [PROFILE] * 2
            session.commit()
        downgrade(engine, "0017")
        with engine.connect() as connection:
            profiles = connection.execute(text("SELECT profile FROM claim_profiles ORDER BY id")).scalars().all()
            assert [json.loads(zlib.decompress(p)) for p in profiles] == [PROFILE] * 2
    finally:
        engine.dispose()


def test_bodies_against_a_base_migration_both_ways(database_url: str) -> None:
    """0019 adds ``bodies.base``: a row stored before reads as it did, new rows may be deltas of it; the
    downgrade stores every delta standalone again (zlib 6, the same bytes, more than one batch of them)
    and drops the column."""
    import random

    from watcher.models import store_bodies

    rng = random.Random(19)
    base = " ".join(f"段落{rng.randrange(10**9)}" for _ in range(600)).encode()
    deltas = [base + f"<p>版 {n}</p>".encode() for n in range(250)]
    digests = [hashlib.sha256(body).hexdigest() for body in [base, *deltas]]
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0018")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO bodies (sha256, size, compression, data) VALUES (:sha, :size, 'zlib', :data)"),
                {"sha": digests[0], "size": len(base), "data": zlib.compress(base, 6)},
            )
        upgrade(engine)
        with Session(engine) as session:
            store_bodies(session, dict(zip(digests[1:], deltas, strict=True)), dict.fromkeys(digests[1:], digests[0]))
            session.commit()
            bodies = {body.sha256: body for body in session.scalars(select(Body))}
            assert {body.base for body in bodies.values()} == {None, digests[0]}
            assert sum(body.base is not None for body in bodies.values()) == 250
            assert [raw_bytes(Snapshot(body=bodies[digest])) for digest in digests] == [base, *deltas]
        downgrade(engine, "0018")
        with engine.connect() as connection:
            assert "base" not in {column["name"] for column in inspect(connection).get_columns("bodies")}
            stored = connection.execute(text("SELECT sha256, compression, data FROM bodies")).all()
        rows = {digest: (kind, data) for digest, kind, data in stored}
        assert {kind for kind, _ in rows.values()} == {"zlib"}
        assert [zlib.decompress(rows[digest][1]) for digest in digests] == [base, *deltas]
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def _old_chains(rng: Any) -> dict[int, list[tuple[int, datetime, str]]]:
    """Three sources' chains of versions (snapshot id, capture time, text): lines kept, dropped, brought
    back and added from version to version, some shared between sources, some Japanese, some long
    enough that a block closes at its character limit before its slot limit."""
    shared = [f"共通の説明 {n}: うつ病とTMS治療" for n in range(40)] + ["Ａ－Ｂ　全角。\tタブ ǅ ß", '"x" AND y*']
    chains: dict[int, list[tuple[int, datetime, str]]] = {}
    for source_id in (1, 2, 3):
        pool = [f"Source {source_id} line {n}: Clinically PROVEN 治療{n % 7}" for n in range(260)]
        pool += [f"長い段落 {source_id}-{n} " + " ".join(["認知行動療法"] * 140) for n in range(8)] + shared
        current = set(rng.sample(pool, 150))
        chain = []
        for version in range(24):
            current = {line for line in current if rng.random() < 0.75} | set(rng.sample(pool, 50))
            at = datetime(2026, 1, 1, 9, 30, 15, 123456, tzinfo=UTC) + timedelta(days=version, hours=source_id)
            chain.append((source_id * 100 + version, at, "\n".join(sorted(current, key=pool.index))))
        chains[source_id] = chain
    return chains


def _schema(connection: Connection, tables: tuple[str, ...]) -> list[Any]:
    """What describes these tables: columns, keys, indexes (with their options), row layout."""
    inspector = inspect(connection)
    described: list[Any] = [sorted(inspector.get_table_names())]
    for table in tables:
        described += [
            [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in inspector.get_columns(table)],
            inspector.get_pk_constraint(table),
            inspector.get_unique_constraints(table),
            sorted(inspector.get_indexes(table), key=lambda index: str(index["name"])),
            inspector.get_foreign_keys(table),
        ]
        if connection.dialect.name == "sqlite":
            ddl = connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
            described.append("WITHOUT ROWID" in ddl)
    if connection.dialect.name == "sqlite":
        described.append(connection.scalar(text(f"SELECT sql FROM sqlite_master WHERE name = '{TERMS_TABLE}'")))
    return described


def _old_index(connection: Connection, terms: list[str]) -> tuple[list[Any], list[Any], dict[str, set[str]]]:
    """0019's passages (key, text) in id order, its intervals with the passage's text for its id, and
    the texts its posting lists give for each short term (SQLite's FTS5 table, PostgreSQL's GIN)."""
    from watcher.search_index import TERMS_FUNCTION, term_token

    passages = connection.execute(text("SELECT id, key, text FROM passages ORDER BY id")).all()
    texts = {pid: line for pid, _key, line in passages}
    occurrences = sorted(
        (texts[row[0]], *row[1:]) for row in connection.execute(text("SELECT * FROM passage_occurrences"))
    )
    if connection.dialect.name == "sqlite":
        query = f"SELECT rowid FROM {TERMS_TABLE} WHERE {TERMS_TABLE} MATCH :token"
    else:
        query = f"SELECT id FROM passages WHERE {TERMS_FUNCTION}(text) @> ARRAY[CAST(:term AS text)]"
    found = {
        term: {
            texts[pid] for pid in connection.execute(text(query), {"token": term_token(term), "term": term}).scalars()
        }
        for term in terms
    }
    return [(key, line) for _pid, key, line in passages], occurrences, found


def test_passage_blocks_and_runs_migration_both_ways(database_url: str) -> None:
    """0020 turns a store indexed by the write path of 0019 (passages with gaps in their ids, one of
    them at a key a collision moved it to; an interval per passage, source and stretch of versions,
    more of them than one batch) into blocks and runs: each source's intervals are those its chain
    gives, grouped as the live write path groups them, every passage keeps its key, searches find the
    lines holding the term, and new blocks and runs take the next ids. The downgrade gives back 0019's
    schema and rows: the same keys, texts, intervals and posting lists, the ids dense in their order."""
    import random

    from watcher.models import BLOCK_SLOTS, PassageBlock, PassageRun, RunPassage, decode_block, unpack_ids
    from watcher.pipeline.passages import chain_intervals, chain_runs, next_key, passage_lines

    chains = _old_chains(random.Random(20))
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0019")
        lines = list(
            dict.fromkeys(line for chain in chains.values() for _s, _a, t in chain for line in passage_lines(t))
        )
        ids = {line: 3 * number + 7 for number, line in enumerate(lines)}  # gaps, as deleted rows leave
        keys = {line: passage_key(line) for line in lines}
        keys[lines[5]] = next_key(keys[lines[5]])  # as if another line had its key first
        expected = {source_id: chain_intervals(chain)[0] for source_id, chain in chains.items()}
        occurrence = ("INSERT INTO passage_occurrences VALUES (:passage_id, :source_id, :first_snapshot_id, "
                      ":first_seen, :last_snapshot_id, :last_seen, :versions, :gone_snapshot_id, :gone_at)")  # fmt: skip
        with engine.begin() as connection:
            for source_id in chains:
                connection.execute(text("INSERT INTO sources (id, url, kind, interval_seconds, active, created_at, "
                                        "render, screenshot, requisites) VALUES (:id, :url, 'page', 86400, :t, :now, "
                                        ":f, :f, :f)"),
                                   {"id": source_id, "url": f"https://clinic.example/{source_id}", "now": AT,
                                    "t": True, "f": False})  # fmt: skip
            connection.execute(
                text("INSERT INTO passages (id, key, text) VALUES (:id, :key, :text)"),
                [{"id": ids[line], "key": keys[line], "text": line} for line in lines],
            )
            _store_old_terms(connection, {ids[line]: line for line in lines})
            connection.execute(
                text(occurrence).bindparams(
                    *(bindparam(name, type_=CompactUTCDateTime()) for name in ("first_seen", "last_seen", "gone_at"))
                ),
                [i.row(ids[i.line], source_id) for source_id, intervals in expected.items() for i in intervals],
            )
            terms = ["う", "治療", "tm", "2:", "P"]
            schema = _schema(connection, ("passages", "passage_occurrences"))
            before = _old_index(connection, terms)
            if connection.dialect.name == "postgresql":
                old_terms: dict[str, list[str]] = dict(
                    connection.execute(text("SELECT text, watcher_short_terms(text) FROM passages")).all()
                )
        assert sum(len(intervals) for intervals in expected.values()) > 2000  # more than the migration's batch

        upgrade(engine)
        with Session(engine) as session:
            for source_id, chain in chains.items():
                assert _interval_rows(session, [source_id]) == sorted(
                    (i.line, source_id, *list(i.row(0, source_id).values())[2:]) for i in expected[source_id]
                )
                runs = session.scalars(select(PassageRun).where(PassageRun.source_id == source_id)).all()
                texts = passage_texts(session, [pid for run in runs for pid in unpack_ids(run.passages)])
                stored = {
                    (run.first_snapshot_id, run.first_seen, run.last_snapshot_id, run.last_seen, run.versions,
                     run.gone_snapshot_id, run.gone_at): sorted(texts[pid] for pid in unpack_ids(run.passages))
                    for run in runs
                }  # fmt: skip
                assert stored == {key: sorted(run) for key, run in chain_runs(chain)[0].items()}
            packed = {
                (pid, run.source_id, run.first_seen.replace(microsecond=0), run.id)
                for run in session.scalars(select(PassageRun))
                for pid in unpack_ids(run.passages)
            }
            members = session.execute(
                select(RunPassage.passage_id, RunPassage.source_id, RunPassage.first_seen, RunPassage.run_id)
            ).all()
            assert {tuple(row) for row in members} == packed and len(members) == len(packed)
            by_key: dict[int, int] = dict(session.execute(text("SELECT key, id FROM passages")).all())
            assert {key: passage_texts(session, [pid])[pid] for key, pid in by_key.items()} == {
                key: line for line, key in keys.items()
            }
            blocks = [
                decode_block(value)
                for value in session.execute(text("SELECT text FROM passage_blocks ORDER BY id")).scalars()
            ]
            assert len(blocks) > 3 and sum(map(len, blocks)) == len(lines)
            assert all(len(b) <= BLOCK_SLOTS and (len(b) == 1 or len("\n".join(b)) <= 1 << 14) for b in blocks)
            assert any(len(b) < BLOCK_SLOTS for b in blocks[:-1])  # closed by its characters
            if session.connection().dialect.name == "postgresql":  # 0020's function: the same terms
                new_terms = session.execute(
                    text("SELECT t, watcher_short_terms(t) FROM unnest(CAST(:texts AS text[])) AS t"), {"texts": lines}
                )
                assert dict(new_terms.all()) == old_terms
            for term in [*terms, "clinically proven", "行動療法 認知", "LINE 1", "うつ病とTMS", "ｂ　全", "AND y*"]:
                found = {line for line in lines if term.lower() in line.lower()}
                assert found and _matching_lines(session, term) == found, term
            # The ids go on from the converted ones (PostgreSQL: the sequences were set).
            last_block = session.execute(select(func.max(PassageBlock.id))).scalar_one()
            last_run = session.execute(select(func.max(PassageRun.id))).scalar_one()
            block = PassageBlock(text="新しい行")
            run = PassageRun(source_id=1, first_snapshot_id=1, first_seen=AT, last_snapshot_id=1, last_seen=AT,
                             versions=1, passages=b"")  # fmt: skip
            session.add_all([block, run])
            session.flush()
            assert (block.id, run.id) == (last_block + 1, last_run + 1)
            session.rollback()

        downgrade(engine, "0019")
        with engine.connect() as connection:
            assert _schema(connection, ("passages", "passage_occurrences")) == schema
            assert _old_index(connection, terms) == before
            assert connection.execute(text("SELECT id FROM passages ORDER BY id")).scalars().all() == list(
                range(1, len(lines) + 1)
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


HEADERS = {
    "Content-Type": ["text/html; charset=utf-8"],
    "Date": ["Sat, 05 Dec 2026 01:31:26 GMT"],
    "Server": ["nginx"],
    "Etag": ['"45591e802f68773746d5a28a53dd81dd"'],
    "Set-Cookie": ["a=1; path=/", "b=2; path=/; HttpOnly"],
    "X-Note": ["日本語の値"],
}


CONVERTED_0021 = ("snapshots", "requisites", "text_versions")


def test_headers_and_texts_take_their_dictionaries_and_give_them_back(database_url: str) -> None:
    """0021 stores the snapshots' and requisites' headers as ``ZlibJSON(HEADERS)`` (a format byte, then
    raw deflate: smaller than their JSON), writes the texts again with the text dictionary and the text
    digests as bytes; the model reads every kind of row, a plain zlib text included; the downgrade gives
    back the same JSON, plain zlib texts, hex digests and dates; the schema matches the models at the head."""
    from watcher.zdicts import HEADERS as HEADERS_DICTIONARY
    from watcher.zdicts import TEXT as TEXT_DICTIONARY

    body = "幹細胞培養上清液について\n当院では点滴を行っています。効果には個人差があります。"
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            _insert_captures_at_0010(connection, [b"<html>A</html>", b"<html>B</html>"])
        upgrade(engine, "0020")
        with engine.begin() as connection:
            for table in ("snapshots", "requisites"):
                connection.execute(text(f"UPDATE {table} SET headers = :headers"), {"headers": json.dumps(HEADERS)})
            connection.execute(text("UPDATE text_versions SET text = :text, text_sha256 = :sha"),
                               {"text": zlib.compress(body.encode()), "sha": hashlib.sha256(b"sha").hexdigest()})  # fmt: skip
        upgrade(engine)
        with Session(engine) as session:
            for table in ("snapshots", "requisites"):
                stored = session.execute(text(f"SELECT headers FROM {table}")).scalars().all()
                assert {data[0] for data in stored} == {HEADERS_DICTIONARY}
                assert all(len(data) < len(json.dumps(HEADERS, ensure_ascii=False)) for data in stored)
            texts = session.execute(text("SELECT text FROM text_versions ORDER BY id")).scalars().all()
            assert [data[0] for data in texts] == [TEXT_DICTIONARY] * 2
            assert all(len(data) < len(zlib.compress(body.encode(), 9)) for data in texts)
            assert list(session.scalars(select(Snapshot.headers))) == [HEADERS] * 2
            assert list(session.scalars(select(Requisite.headers))) == [HEADERS]
            digests = session.execute(text("SELECT text_sha256 FROM text_versions")).scalars().all()
            assert [bytes(digest) for digest in digests] == [hashlib.sha256(b"sha").digest()] * 2
            assert list(session.scalars(select(TextVersion.text_sha256))) == [hashlib.sha256(b"sha").hexdigest()] * 2
            assert list(session.scalars(select(TextVersion.created_at))) == [datetime(2026, 1, 1, tzinfo=UTC)] * 2
            # A text as 0015 to 0020 wrote it still reads (plain zlib, recognised by its first byte).
            session.execute(text("UPDATE text_versions SET text = :old WHERE snapshot_id = 1"),
                            {"old": zlib.compress(body.encode(), 9)})  # fmt: skip
            session.expire_all()
            assert list(session.scalars(select(TextVersion.text))) == [body] * 2
            session.commit()
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_object": include_object_for(connection.dialect.name)}
            drift = compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
        # This revision's tables only: the whole schema is test_upgrade_downgrade_upgrade_and_no_drift's.
        mine = [item for item in drift if any(f"'{table}'" in str(item) for table in CONVERTED_0021)]
        assert mine == [], f"models and migrations differ: {mine}"
        downgrade(engine, "0020")
        with engine.connect() as connection:
            for table in ("snapshots", "requisites"):
                for value in connection.execute(text(f"SELECT headers FROM {table}")).scalars():
                    assert (json.loads(value) if isinstance(value, str) else value) == HEADERS
            texts = connection.execute(text("SELECT text FROM text_versions")).scalars().all()
            assert [zlib.decompress(data).decode() for data in texts] == [body] * 2
            digests = connection.execute(text("SELECT text_sha256 FROM text_versions")).scalars().all()
            assert digests == [hashlib.sha256(b"sha").hexdigest()] * 2
            created = connection.execute(text("SELECT created_at FROM text_versions")).scalars().all()
            assert {str(value)[:19] for value in created} == {"2026-01-01 00:00:00"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
