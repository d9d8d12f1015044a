"""record_capture on both databases, fed Capture objects directly (the spider has its own tests)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from waiting import STARTUP_SECONDS, wait_for
from warcio.archiveiterator import ArchiveIterator

from watcher.capture import Capture, sha256_hex
from watcher.config import Settings
from watcher.db import Store
from watcher.export import ExportFilter, export_warc
from watcher.models import Body, Change, Check, Snapshot, TextVersion, raw_bytes, store_body
from watcher.pipeline.record import record_capture
from watcher.queries.snapshots import snapshot_raw
from watcher.sources import SourceSpec, add_sources

PAGE = """<html><head><title>{title}</title></head><body>
<nav><ul><li><a href="/">ホーム</a></li><li><a href="/menu">診療案内</a></li></ul></nav>
<main><article><h1>{title}</h1>
<p>{body}</p>
<ul><li>うつ病</li><li>不安障害</li></ul>
<form><input type="hidden" name="csrf" value="{token}"></form>
</article></main>
<footer>訪問者数 {counter} ・ 生成 {stamp}</footer></body></html>"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def page(body: str, *, token: str = "t1", counter: int = 1, title: str = "エクソソーム治療について") -> bytes:
    return PAGE.format(title=title, body=body, token=token, counter=counter, stamp=counter * 7).encode("utf-8")


def capture(source_id: int, body: bytes, *, minutes: int, status: int = 200, **extra: object) -> Capture:
    headers = {"Content-Type": ["text/html; charset=utf-8"], "ETag": [f'"e{minutes}"']}
    return Capture(
        source_id=source_id,
        requested_url="https://clinic.example/p",
        final_url="https://clinic.example/p",
        fetched_at=T0 + timedelta(minutes=minutes),
        duration_ms=12,
        status=status,
        headers=headers,
        body=body,
        **extra,
    )  # type: ignore[arg-type]


def counts(store: Store) -> tuple[int, int, int, int]:
    with store.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) or 0  # type: ignore[return-value]
            for m in (Check, Snapshot, TextVersion, Change)
        )


def test_snapshots_only_when_text_changes(store: Store, settings: Settings) -> None:
    with store.session() as s:
        source_id = add_sources(s, [SourceSpec(url="https://clinic.example/p")])[0].id
    text_a = (
        "エクソソームはうつ病の症状を改善する可能性があります。十分な説明を行い、ご本人の同意を得て実施しています。"
    )
    text_b = "エクソソームはうつ病の症状を改善することが証明されています。十分な説明を行い、ご本人の同意を得て実施しています。"
    outcomes = []
    steps = [
        capture(source_id, page(text_a), minutes=0),
        capture(source_id, page(text_a, token="t2", counter=2), minutes=1),  # noise only
        capture(source_id, page(text_a, token="t2", counter=2), minutes=2),  # byte-identical
        capture(source_id, b"", minutes=3, status=304),
        capture(source_id, page(text_b, token="t3", counter=3), minutes=4),  # real change
        capture(source_id, b"<html><body>Internal error</body></html>", minutes=5, status=500),
        capture(source_id, b"", minutes=6, status=None, error_kind="timeout", error="timed out"),  # type: ignore[arg-type]
        capture(source_id, page(text_b, token="t4", counter=4), minutes=7),  # back after errors: unchanged
    ]
    for step in steps:
        with store.session() as s:
            outcomes.append(record_capture(s, step, settings=settings))
    assert [r.outcome for r in outcomes] == [
        "changed",
        "unchanged",
        "unchanged",
        "not_modified",
        "changed",
        "error",
        "error",
        "unchanged",
    ]
    assert outcomes[0].snapshot_id is not None and outcomes[1].snapshot_id is None
    assert outcomes[4].change_id is not None
    assert outcomes[5].http_status == 500
    assert counts(store) == (8, 2, 2, 1)
    with store.session() as s:
        change = s.get(Change, outcomes[4].change_id)
        assert change is not None and change.inserted_chars > 0 and change.deleted_chars > 0
        inserted = "".join(text for op, text in change.ops if op == 1)
        assert "証明されてい" in inserted
        snapshot = s.get(Snapshot, outcomes[4].snapshot_id)
        assert snapshot is not None and raw_bytes(snapshot) == steps[4].body
        assert snapshot.size == len(steps[4].body) and len(snapshot.body.data) < snapshot.size
        errors = s.scalars(select(Check).where(Check.outcome == "error").order_by(Check.id)).all()
        assert [e.error_kind for e in errors] == ["http_500", "timeout"]


def test_reprocessing_the_same_capture_adds_no_snapshot(store: Store, settings: Settings) -> None:
    with store.session() as s:
        source_id = add_sources(s, [SourceSpec(url="https://clinic.example/p")])[0].id
    first = capture(
        source_id, page("NMNの点滴は疲労感の改善が期待されています。詳しくは医師にご相談ください。"), minutes=0
    )
    for _ in range(3):
        with store.session() as s:
            record_capture(s, first, settings=settings)
    assert counts(store) == (3, 1, 1, 0)


def test_failed_page_never_becomes_previous_version(store: Store, settings: Settings) -> None:
    with store.session() as s:
        source_id = add_sources(s, [SourceSpec(url="https://clinic.example/p")])[0].id
    good = page("TMS治療はうつ病に有効です。保険適用の条件についてはお問い合わせください。")
    challenge = (
        b"<html><head><title>Just a moment...</title></head><body>"
        b"<div id='cf-chl-widget'>Checking your browser before accessing the site.</div></body></html>"
    )
    with store.session() as s:
        record_capture(s, capture(source_id, good, minutes=0), settings=settings)
    with store.session() as s:
        blocked = record_capture(s, capture(source_id, challenge, minutes=1, status=403), settings=settings)
    with store.session() as s:
        empty = record_capture(s, capture(source_id, b"<html><body></body></html>", minutes=2), settings=settings)
    with store.session() as s:
        back = record_capture(s, capture(source_id, good, minutes=3), settings=settings)
    assert (blocked.outcome, empty.outcome, back.outcome) == ("blocked", "error", "unchanged")
    assert counts(store)[1:] == (1, 1, 0)


def test_page_flipping_back_keeps_one_copy_of_each_body(store: Store, settings: Settings) -> None:
    """A → B → A: three checks and three snapshots, but the bytes of A are stored once; every reader
    gives each snapshot its own bytes back."""
    with store.session() as s:
        source_id = add_sources(s, [SourceSpec(url="https://clinic.example/p")])[0].id
    body_a = page("エクソソームはうつ病の症状を改善する可能性があります。")
    body_b = page("エクソソームはうつ病の症状を改善することが証明されています。")
    results = []
    for minutes, body in enumerate([body_a, body_b, body_a]):
        with store.session() as s:
            results.append(record_capture(s, capture(source_id, body, minutes=minutes), settings=settings))
    assert [r.outcome for r in results] == ["changed", "changed", "changed"]
    assert counts(store)[:2] == (3, 3)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Body)) == 2
        snapshots = [s.get(Snapshot, r.snapshot_id) for r in results]
        assert [raw_bytes(x) for x in snapshots if x is not None] == [body_a, body_b, body_a]
        assert snapshots[0] is not None and snapshots[2] is not None
        assert snapshots[0].sha256 == snapshots[2].sha256 == sha256_hex(body_a)
        # The readers: the raw view, and a WARC export whose one batch holds A's body for two snapshots.
        assert [snapshot_raw(s, r.snapshot_id or 0).body for r in results] == [body_a, body_b, body_a]
        out = io.BytesIO()
        assert export_warc(s, out, filters=ExportFilter(), gzip=False) == 3
    out.seek(0)
    payloads = [r.content_stream().read() for r in ArchiveIterator(out) if r.rec_type == "response"]
    assert payloads == [body_a, body_b, body_a]


def test_same_body_stored_by_two_transactions_at_once(store: Store) -> None:
    """Two transactions keeping the same bytes: the second waits for the first (PostgreSQL: on the
    key; SQLite: on the write lock), then adds nothing; neither fails, one row remains."""
    body = page("同じ本文を二つのトランザクションが同時に保存します。")
    stored: list[str] = []
    postgres = store.engine.dialect.name == "postgresql"
    with store.session() as first:
        stored.append(store_body(first, body))
        first.flush()
        worker = threading.Thread(target=lambda: stored.append(_store_in_own_session(store, body)))
        worker.start()
        if postgres:  # the second insert is blocked on the first one's uncommitted key
            wait_for(lambda: _waiting_on_lock(store), what="the second insert to wait on the first")
    worker.join(timeout=STARTUP_SECONDS)
    assert not worker.is_alive() and stored == [sha256_hex(body)] * 2
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Body)) == 1


def _store_in_own_session(store: Store, body: bytes) -> str:
    with store.session() as session:
        return store_body(session, body)


def _waiting_on_lock(store: Store) -> bool:
    query = text(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with store.engine.connect() as connection:  # a fresh view: pg_stat_activity is frozen per transaction
        return bool(connection.execute(query).scalar())
