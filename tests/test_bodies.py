"""Bodies stored against a base (migration 0019): the page's previous body, or for a site's first captures
the first one of the part; every reader gives back the exact bytes, on both databases."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alert_factory import html_capture
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from watcher.capture import Capture
from watcher.config import Settings
from watcher.db import Store
from watcher.export import ExportFilter, export_warc
from watcher.models import (
    Body,
    Snapshot,
    Source,
    body_bytes,
    decode_body_data,
    encode_body_data,
    raw_bytes,
    store_bodies,
)
from watcher.pipeline.record import CheckResult, record_captures
from watcher.queries.snapshots import snapshot_raw
from watcher.sources import SourceSpec, add_sources
from watcher.wacz import WARC_PATH, export_wacz

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ("うつ病", "不安障害", "治療", "エクソソーム", "TMS", "clinic", "evidence", "保険適用", "副作用", "症状")


def paragraphs(seed: int, count: int) -> list[str]:
    """Text that deflate cannot shrink to nothing (the words drawn at random, numbers in between)."""
    rng = random.Random(seed)
    return [
        " ".join(f"{rng.choice(WORDS)}{rng.randrange(10**6)}" for _ in range(rng.randrange(20, 60)))
        for _ in range(count)
    ]


def html(lines: list[str]) -> bytes:
    items = "\n".join(f"<p>{line}</p>" for line in lines)
    return f"<html><head><title>診療案内</title></head><body><main><h1>診療案内</h1>\n{items}\n</main></body></html>".encode()


def edited(seed: int, count: int, *edits: tuple[int, str]) -> list[bytes]:
    """A page of ``count`` paragraphs, then its versions with each edit (a paragraph replaced) in turn."""
    lines = paragraphs(seed, count)
    versions = [html(lines)]
    for number, line in edits:
        lines[number] = line
        versions.append(html(lines))
    return versions


def capture(source_id: int, url: str, body: bytes, *, minutes: int) -> Capture:
    return html_capture(source_id, url, body, T0 + timedelta(minutes=minutes))


def record_versions(store: Store, settings: Settings, url: str, bodies: list[bytes]) -> list[CheckResult]:
    """A new source at ``url`` captured with each of ``bodies`` in turn, a minute apart."""
    with store.session() as session:
        source_id = add_sources(session, [SourceSpec(url=url)])[0].id
    results = []
    for minutes, body in enumerate(bodies):
        with store.session() as session:
            results += record_captures(session, [capture(source_id, url, body, minutes=minutes)], settings=settings)
    return results


def rows(store: Store) -> dict[str, Body]:
    with store.session() as session:
        bodies = session.scalars(select(Body)).all()
        session.expunge_all()
    return {body.sha256: body for body in bodies}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_page_is_stored_against_its_previous_body_and_read_back_exactly(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A 150 KB page (past deflate's 32 KB window) edited one paragraph at a time: each new version is
    a delta of a few KB against the standalone first one (one hop: v3's base is v1, v2's base), A→B→C→A
    keeps one A, and every reader — raw_bytes, the API's raw view, WARC and WACZ exports — gives each
    snapshot its own bytes (SHA-256)."""
    url = "https://clinic.example/treatment"
    v1, v2, v3 = edited(
        1, 600, (300, "エクソソームはうつ病を治すことが臨床試験で証明されています。"), (100, "TMS治療は保険適用です。")
    )
    assert len(v1) > 150_000
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        results = record_versions(store, settings, url, [v1, v2, v3, v1])
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    # The previous body comes with the previous version's query: no body is read on its own.
    assert not [sql for sql in statements if "FROM bodies" in sql and "text_versions" not in sql]
    assert [result.outcome for result in results] == ["changed"] * 4

    stored = rows(store)
    assert set(stored) == {sha(v1), sha(v2), sha(v3)}  # the second A is the first one's row, not rewritten
    assert (stored[sha(v1)].base, stored[sha(v1)].compression) == (None, "zlib")
    for version in (v2, v3):
        row = stored[sha(version)]
        assert (row.base, row.compression) == (sha(v1), "zstd")
        assert len(row.data) < len(zlib.compress(version, 6)) // 10

    with store.session() as session:
        snapshots = session.scalars(select(Snapshot).order_by(Snapshot.id)).all()
        assert [sha(raw_bytes(snapshot)) for snapshot in snapshots] == [sha(v) for v in (v1, v2, v3, v1)]
        assert [snapshot_raw(session, r.snapshot_id or 0).body for r in results] == [v1, v2, v3, v1]
        out = io.BytesIO()
        assert export_warc(session, out, filters=ExportFilter(), gzip=False) == 4
        export_wacz(session, tmp_path / "pages.wacz", filters=ExportFilter())
    out.seek(0)
    assert _payload_hashes(out) == [sha(v) for v in (v1, v2, v3, v1)]
    with zipfile.ZipFile(tmp_path / "pages.wacz") as package, package.open(WARC_PATH) as warc:
        assert _payload_hashes(io.BytesIO(warc.read())) == [sha(v) for v in (v1, v2, v3, v1)]


def _payload_hashes(warc: io.BytesIO) -> list[str]:
    return [sha(r.content_stream().read()) for r in ArchiveIterator(warc) if r.rec_type == "response"]


def test_first_captures_of_a_site_are_stored_against_its_first_one(store: Store, settings: Settings) -> None:
    """In one batch, the first new page of a host is stored standalone and the host's other first
    captures against it; another host's page stays standalone (no base across sites)."""
    template = paragraphs(2, 60)
    urls = [f"https://clinic.example/p{n}" for n in range(4)] + ["https://other.example/p"]
    with store.session() as session:
        ids = [source.id for source in add_sources(session, [SourceSpec(url=url) for url in urls])]
    bodies = [html([*template[:30], *paragraphs(10 + n, 3), *template[30:]]) for n in range(len(urls))]
    with store.session() as session:
        # As the service records a batch (watcher.pipeline.run): its sources read first, in one query.
        sources = session.scalars(select(Source).where(Source.id.in_(ids))).all()
        captures = [capture(i, url, body, minutes=0) for i, url, body in zip(ids, urls, bodies, strict=True)]
        results = record_captures(session, captures, settings=settings)
        del sources
    assert [result.outcome for result in results] == ["changed"] * 5
    stored = rows(store)
    assert [stored[sha(body)].base for body in bodies] == [None, sha(bodies[0]), sha(bodies[0]), sha(bodies[0]), None]
    with store.session() as session:
        snapshots = session.scalars(select(Snapshot).order_by(Snapshot.id)).all()
        assert [raw_bytes(snapshot) for snapshot in snapshots] == bodies


def test_a_weak_base_is_not_kept_and_the_body_becomes_the_next_base(store: Store, settings: Settings) -> None:
    """A page rewritten from scratch gains nothing from its previous body: it is stored standalone,
    and its own next version is stored against it."""
    first, rewritten = html(paragraphs(3, 50)), paragraphs(4, 50)
    second = html(rewritten)
    rewritten[10] = "新しい段落です。"
    third = html(rewritten)
    record_versions(store, settings, "https://clinic.example/news", [first, second, third])
    stored = rows(store)
    assert [stored[sha(body)].base for body in (first, second, third)] == [None, None, sha(second)]


def test_a_base_stored_against_another_gives_its_own_base(store: Store) -> None:
    """One hop only: a body proposed against a delta is stored against that delta's base; a body
    already stored is left as it is, whatever is proposed for it."""
    a, b, c = edited(5, 80, (5, "一段落だけ変えました。"), (50, "もう一段落。"))
    with store.session() as session:
        store_bodies(session, {sha(a): a})
        store_bodies(session, {sha(b): b}, {sha(b): sha(a)})
        store_bodies(session, {sha(c): c, sha(a): a}, {sha(c): sha(b), sha(a): sha(c)})
    stored = rows(store)
    assert {digest: row.base for digest, row in stored.items()} == {sha(a): None, sha(b): sha(a), sha(c): sha(a)}
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Body)) == 3
        for body in (a, b, c):
            assert sha(_read(session, sha(body))) == sha(body)


def _read(session: Session, digest: str) -> bytes:
    body = session.get(Body, digest)
    assert body is not None
    return body_bytes(body)


def test_a_base_of_megabytes_is_reached() -> None:
    """A body whose edit lies megabytes into its base (past a zstd level's own window and tables)
    is still a delta of a few bytes, and decodes exactly."""
    base = random.Random(7).randbytes(4_000_000)  # incompressible alone: only the base can help
    new = base[:3_000_000] + b"edit" + base[3_000_000:]
    compression, data = encode_body_data(new, base)
    assert compression == "zstd" and len(data) < 10_000
    assert decode_body_data(compression, data, base) == new
