"""WARC out and in: `watcher export --format warc` writes a WARC 1.1 file that warcio reads and
verifies; `watcher import-warc` backfills history from it (and from hand-made archives) through the
live pipeline, idempotently. On SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_ADMIN_URL, _admin_connect
from history_factory import URL_B, build_history
from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from watcher import warc
from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, Check, Snapshot, Source, TextVersion
from watcher.pipeline.record import RECORD_FAILED
from watcher.warc import sha256_base32

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"watcher_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def captures(store: Store) -> dict[str, list[tuple[datetime, str, str, str]]]:
    with store.session() as session:
        rows = session.execute(
            select(Source.url, Snapshot.fetched_at, Snapshot.sha256, TextVersion.text_sha256, TextVersion.text)
            .join(Snapshot, Snapshot.source_id == Source.id)
            .join(TextVersion, TextVersion.snapshot_id == Snapshot.id)
            .order_by(Source.url, Snapshot.fetched_at)
        ).all()
    out: dict[str, list[tuple[datetime, str, str, str]]] = {}
    for url, *rest in rows:
        out.setdefault(url, []).append(tuple(rest))  # type: ignore[arg-type]
    return out


def alert_kinds(store: Store) -> Counter[tuple[str, str, str | None]]:
    with store.session() as session:
        return Counter(
            session.execute(
                select(Source.url, Alert.kind, Alert.indication).join(Source, Alert.source_id == Source.id)
            ).all()
        )


def test_warc_round_trip(
    store: Store,
    settings: Settings,
    run_cli,
    tmp_path: Path,
    fresh_url: str,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_history(store, settings)
    plain, packed = tmp_path / "all.warc", tmp_path / "all.warc.gz"
    for target in (plain, packed):
        result = run_cli("export", "--format", "warc", "--output", str(target))
        assert result.code == 0 and "exported 8 snapshot(s)" in result.err, result.err
    with packed.open("rb") as raw:
        assert raw.read(2) == b"\x1f\x8b"
    with gzip.open(packed) as unpacked:  # one gzip member per record: they read as one stream
        assert unpacked.read(8) == b"WARC/1.1"

    with store.session() as session:
        stored = {s.id: s for s in session.scalars(select(Snapshot))}
    for path in (plain, packed):
        with path.open("rb") as stream:
            records = []
            for record in ArchiveIterator(stream, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False, record.digest_checker.problems
                records.append(record)
        assert [r.rec_type for r in records[:3]] == ["warcinfo", "response", "request"]
        assert all(r.rec_headers.protocol == "WARC/1.1" for r in records)
        responses = [r for r in records if r.rec_type == "response"]
        assert len(responses) == 8 and len([r for r in records if r.rec_type == "request"]) == 8
        for record in responses:
            snapshot = stored[int(record.rec_headers.get_header("Watcher-Snapshot-Id"))]
            assert record.rec_headers.get_header("WARC-Target-URI") == snapshot.final_url
            assert record.rec_headers.get_header("WARC-Payload-Digest") == sha256_base32(snapshot.sha256)
            assert record.rec_headers.get_header("WARC-Block-Digest").startswith("sha256:")
            date = datetime.fromisoformat(record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00"))
            assert date == snapshot.fetched_at
            assert record.http_headers.get_statuscode() == "200"
        requests = [r for r in records if r.rec_type == "request"]
        assert requests[0].rec_headers.get_header("WARC-Concurrent-To") == responses[0].rec_headers.get_header(
            "WARC-Record-ID"
        )
        checked = subprocess.run(
            [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0 and "digest pass" in checked.stdout, checked.stdout + checked.stderr

    # Into a fresh database: the same texts and hashes, the same claims and alerts.
    monkeypatch.setenv("WATCHER_DATABASE_URL", fresh_url)
    imported = run_cli("import-warc", str(packed), "--clinic", "Imported", "--json")
    assert imported.code == 0, imported.err
    report = imported.json()
    assert report["snapshots"] == 8 and report["checks"] == 8 and len(report["sources_created"]) == 4
    fresh = Store(fresh_url)
    try:
        assert captures(fresh) == captures(store)
        assert alert_kinds(fresh) == alert_kinds(store)
        with fresh.session() as session:
            assert {c.name for s in session.scalars(select(Source)) if (c := s.clinic)} == {"Imported"}
        again = run_cli("import-warc", str(plain), "--json").json()
        assert again["checks"] == 0 and again["already_imported"] == 8 and again["sources_created"] == []
        with fresh.session() as session:
            assert len(session.scalars(select(Check)).all()) == 8
        text = run_cli("import-warc", str(plain))
        assert "0 check(s) recorded" in text.out and "skipped: 8 already imported" in text.out
    finally:
        fresh.dispose()

    # Filters apply to WARC exports too.
    only_b = tmp_path / "b.warc"
    assert run_cli("export", "--format", "warc", "--source", URL_B, "--output", str(only_b)).code == 0
    with only_b.open("rb") as stream:
        uris = {
            r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream) if r.rec_type == "response"
        }
    assert uris == {URL_B}


def source_clinics(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        return {s.url: (s.clinic.name if s.clinic else None) for s in session.scalars(select(Source))}


def test_warc_round_trip_keeps_clinic_names(  # type: ignore[no-untyped-def]
    store: Store, settings: Settings, run_cli, tmp_path: Path, fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export names each source's clinic in a metadata record; an import without --clinic puts
    the new sources back in those clinics (and a source without one in none)."""
    build_history(store, settings)
    target = tmp_path / "all.warc.gz"
    assert run_cli("export", "--format", "warc", "--output", str(target)).code == 0
    original = source_clinics(store)
    assert None in original.values() and len({c for c in original.values() if c}) == 2
    with target.open("rb") as stream:
        metadata = [
            (r.rec_headers.get_header("WARC-Concurrent-To"), r.content_stream().read().decode("utf-8"))
            for r in ArchiveIterator(stream)
            if r.rec_type == "metadata"
        ]
    assert len(metadata) == len([c for c in original.values() if c])  # one per source with a clinic
    assert all(concurrent and "watcher-clinic: " in fields for concurrent, fields in metadata)

    monkeypatch.setenv("WATCHER_DATABASE_URL", fresh_url)
    assert run_cli("import-warc", str(target), "--json").json()["snapshots"] == 8
    fresh = Store(fresh_url)
    try:
        assert source_clinics(fresh) == original
    finally:
        fresh.dispose()


def _response(
    writer: WARCWriter,
    url: str,
    date: str,
    status: str,
    body: bytes,
    content_type: str,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    headers = StatusAndHeaders(status, [("Content-Type", content_type), *(extra or [])], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": date},
        )
    )


PAGE = (
    "<html><head><title>Wayback</title></head><body><main><h1>TMS therapy</h1>"
    "<p>TMS therapy may help with depression in some patients.</p></main></body></html>"
)
PAGE_2 = PAGE.replace("may help with", "is clinically proven to cure")


def test_import_wayback_style_archive(store: Store, settings: Settings, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "wayback.warc.gz"
    with archive.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        # Out of order on purpose: the import sorts by capture date.
        _response(
            writer,
            "https://old.example/tms",
            "2025-06-01T00:00:00Z",
            "200 OK",
            gzip.compress(PAGE_2.encode()),
            "text/html; charset=utf-8",
            [("Content-Encoding", "gzip")],
        )
        _response(writer, "https://old.example/tms", "2025-01-01T00:00:00Z", "200 OK", PAGE.encode(), "text/html")
        _response(
            writer,
            "https://old.example/tms",
            "2025-03-01T00:00:00Z",
            "404 Not Found",
            b"<html><body><h1>Not Found</h1></body></html>",
            "text/html",
        )
        _response(writer, "https://old.example/logo.png", "2025-01-01T00:00:00Z", "200 OK", b"\x89PNG....", "image/png")
        writer.write_record(
            writer.create_warc_record("https://old.example/tms", "metadata", payload=io.BytesIO(b"note: x"), length=7)
        )
    result = run_cli("import-warc", str(archive), "--clinic", "Old Clinic", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["sources_created"] == ["https://old.example/tms"] and report["skipped_not_pages"] == 1
    assert report["outcomes"] == {"changed": 2, "error": 1} and report["snapshots"] == 2
    history = run_cli("history", "https://old.example/tms", "--json").json()
    assert [(c["checked_at"][:10], c["outcome"], c["http_status"]) for c in history["checks"]] == [
        ("2025-01-01", "changed", 200),
        ("2025-03-01", "error", 404),
        ("2025-06-01", "changed", 200),
    ]
    assert history["snapshots"][1]["indications"] == {"depression": 4}
    kinds = {(a["kind"], a["indication"]) for a in run_cli("alerts", "--json").json()}
    assert ("claim_strengthened", "depression") in kinds
    assert history["source"]["clinic"] == "Old Clinic"

    # A capture older than the stored history cannot be put in the middle of it: skipped and counted.
    older = tmp_path / "older.warc"
    with older.open("wb") as out:
        _response(
            WARCWriter(out, gzip=False),
            "https://old.example/tms",
            "2024-01-01T00:00:00Z",
            "200 OK",
            PAGE.encode(),
            "text/html",
        )
    skipped = run_cli("import-warc", str(older), "--json").json()
    assert skipped["skipped_older"] == 1 and skipped["checks"] == 0


def test_malformed_archives(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"this is not a WARC file\r\n\r\nat all")
    result = run_cli("import-warc", str(junk))
    assert result.code == 2 and result.err.startswith("error: ") and result.err.count("\n") == 1
    assert "is not a valid WARC file" in result.err
    empty = tmp_path / "empty.warc"
    empty.write_bytes(b"")
    assert "holds no records" in run_cli("import-warc", str(empty)).err
    missing = run_cli("import-warc", str(tmp_path / "nope.warc"))
    assert missing.code == 2 and "cannot read" in missing.err
    cut = tmp_path / "cut.warc"
    cut.write_bytes(b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 500\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert run_cli("import-warc", str(cut)).code == 2


def test_a_record_that_cannot_be_recorded_does_not_end_the_import(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met on one archived page (here the claim analysis raising on it) makes that record a failed
    check carrying the error, and the import goes on; importing the file again retries it."""
    archive = tmp_path / "three.warc"
    with archive.open("wb") as out:
        writer = WARCWriter(out, gzip=False)
        _response(writer, "https://old.example/tms", "2025-01-01T00:00:00Z", "200 OK", PAGE.encode(), "text/html")
        _response(writer, "https://old.example/tms", "2025-06-01T00:00:00Z", "200 OK", PAGE_2.encode(), "text/html")
        _response(writer, "https://old.example/other", "2025-07-01T00:00:00Z", "200 OK", PAGE.encode(), "text/html")
    real = warc.analyse_new_version

    def failing(session: Session, version: TextVersion, previous: TextVersion | None) -> Any:
        if "proven" in version.text:
            raise ValueError("max() arg is an empty sequence")
        return real(session, version, previous)

    monkeypatch.setattr(warc, "analyse_new_version", failing)
    report = warc.import_warc(store, archive, settings=settings)
    assert report.outcomes == {"changed": 2, "error": 1} and report.snapshots == 2
    with store.session() as session:
        (failed,) = session.scalars(select(Check).where(Check.error_kind == RECORD_FAILED))
        assert failed.error == "recording failed: ValueError: max() arg is an empty sequence"
        assert failed.checked_at.date().isoformat() == "2025-06-01"
    monkeypatch.setattr(warc, "analyse_new_version", real)
    again = warc.import_warc(store, archive, settings=settings)
    assert again.outcomes == {"changed": 1} and again.already_imported == 2
