"""`watcher backfill` against a real web archive: pywb (the dev extra) serving a collection built here
from WARC files that watcher's own writer produces — several captures of a clinic page whose claims
change over time, a duplicate digest, an archived redirect and an archived 404. Also an archive that
is down, one that never answers, one that rate-limits (429 + Retry-After) and has no CDX API (so the
Memento TimeMap is used), and the private-address guard. On SQLite and PostgreSQL where it matters.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import mimetypes
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from watcher.claims import compare
from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, Body, Check, Requisite, Snapshot, SnapshotRequisite
from watcher.notify.outbox import enqueue
from watcher.pipeline.alerts import record_alerts
from watcher.pipeline.analyse import profile_of
from watcher.subscriptions import SubscriptionSpec, create_subscription
from watcher.warc import write_warc
from watcher.web.app import create_app
from watcher.web.feeds import ATOM_NS, atom_feed
from watcher.webarchive import ArchivedCapture, collapse_digests, parse_cdx, parse_timemap, site_headers

BIN = Path(sys.executable).parent
if importlib.util.find_spec("pywb") is None or not (BIN / "wayback").exists():
    pytest.skip("pywb is not installed (pip install -e '.[dev]'): no local web archive", allow_module_level=True)

COLLECTION = "clinics"
INTRO = (
    "<p>Our clinic offers exosome therapy prepared from stem cell culture, given by our own physicians.</p>"
    "<p>Each session takes about one hour in a quiet room, and a nurse stays with you throughout the visit.</p>"
    "<p>Please book a consultation to discuss whether the treatment suits you and your medical history.</p>"
)
MAY_HELP_DEPRESSION = "<p>Exosome therapy may help patients with depression.</p>"
PROVEN_DEPRESSION = "<p>Exosome therapy is clinically proven to cure depression.</p>"
SCHIZOPHRENIA = "<p>Exosome therapy improves the symptoms of schizophrenia.</p>"
AUTISM = "<p>Exosome therapy may also help children with autism.</p>"


def page(*paragraphs: str) -> bytes:
    body = "".join(paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Exosome therapy | Harbor Light Clinic</title>"
        f"</head><body><main><h1>Exosome therapy</h1>{INTRO}{body}</main></body></html>"
    ).encode()


V1 = page(MAY_HELP_DEPRESSION)
V2 = page(MAY_HELP_DEPRESSION, SCHIZOPHRENIA)
V3 = page(PROVEN_DEPRESSION, SCHIZOPHRENIA)
V4 = page(PROVEN_DEPRESSION, SCHIZOPHRENIA, AUTISM)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (capture time, HTTP status, extra headers, body): what the archive holds, in two WARC files.
HISTORY = [
    [
        (at("2021-03-01T10:00:00"), 200, {}, V1),
        (at("2021-06-01T10:00:00"), 200, {}, V1),  # the same digest: collapsed
        (at("2021-09-01T10:00:00"), 200, {}, V2),
    ],
    [
        (at("2022-01-10T10:00:00"), 301, {"Location": ["/exosome"]}, b""),
        (at("2022-03-01T10:00:00"), 404, {}, b"<html><body><h1>Not found</h1></body></html>"),
        (at("2022-06-01T10:00:00"), 200, {}, V3),
    ],
]


class _Site(BaseHTTPRequestHandler):
    """The clinic's live site: whatever ``pages`` holds now."""

    pages: dict[str, bytes] = {}  # noqa: RUF012 (set per server below)

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", mimetypes.guess_type(self.path)[0] or "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Archive:
    base: str
    page_url: str
    site_pages: dict[str, bytes]
    port: int
    root: Path

    def capture_url(self, moment: datetime) -> str:
        return f"{self.base}/{moment.strftime('%Y%m%d%H%M%S')}/{self.page_url}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_history(path: Path, url: str, captures: list[tuple[datetime, int, dict[str, list[str]], bytes]]) -> None:
    """Write captures with watcher's own WARC writer (transient Snapshot rows, never stored)."""
    snapshots = [
        Snapshot(
            id=number,
            source_id=1,
            fetched_at=moment,
            requested_url=url,
            final_url=url,
            http_status=status,
            headers={"Content-Type": ["text/html; charset=utf-8"], **headers},
            sha256="",
            size=len(body),
            body=Body(sha256="", size=len(body), compression="none", data=body),
        )
        for number, (moment, status, headers, body) in enumerate(captures, start=1)
    ]
    with path.open("wb") as out:
        write_warc(out, snapshots, gzip=True, filename=path.name)


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    parts = urlsplit(url)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pywb exited with status {process.returncode}")
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            connection.request("GET", parts.path + "?" + parts.query)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError("pywb did not start within 90 s")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    site_pages: dict[str, bytes] = {}
    site = ThreadingHTTPServer(("127.0.0.1", 0), type("Site", (_Site,), {"pages": site_pages}))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{site.server_address[1]}/exosome-therapy"
    root = tmp_path_factory.mktemp("pywb")
    files = []
    for number, captures in enumerate(HISTORY, start=1):
        files.append(root / f"history-{number}.warc.gz")
        write_history(files[-1], page_url, captures)
    manager = [str(BIN / "wb-manager")]
    subprocess.run([*manager, "init", COLLECTION], cwd=root, check=True, capture_output=True)
    subprocess.run([*manager, "add", COLLECTION, *map(str, files)], cwd=root, check=True, capture_output=True)
    port = free_port()
    log = (root / "wayback.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=root, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}/{COLLECTION}"
    try:
        wait_until_up(f"{base}/cdx?url={page_url}", process)
        yield Archive(base=base, page_url=page_url, site_pages=site_pages, port=port, root=root)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        site.shutdown()
        site.server_close()


@pytest.fixture
def settings(settings: Settings, archive: Archive) -> Settings:
    return replace(settings, archive_url=archive.base, archive_delay=0.0)


def history_of(store: Store) -> list[tuple[datetime, str, int | None, str | None, int | None]]:
    with store.session() as session:
        rows = session.execute(
            select(Check.checked_at, Check.outcome, Check.http_status, Check.archive_url, Check.snapshot_id).order_by(
                Check.checked_at, Check.id
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_backfill_from_pywb_answers_when_a_claim_first_appeared(  # type: ignore[no-untyped-def]
    archive: Archive, store: Store, settings: Settings, run_cli
) -> None:
    with store.session() as session:
        create_subscription(session, SubscriptionSpec(email="desk@newsroom.example"))
    added = run_cli("sources", "add", archive.page_url, "--clinic", "Harbor Light Clinic", "--backfill")
    assert added.code == 0, added.err
    assert "5 capture(s) listed, 5 recorded (changed 3, error 2), 3 new snapshot(s)" in added.out
    assert "1 duplicate digests" in added.out

    # Oldest first, each at the archive's capture time, with the archive's capture URL as provenance.
    expected = [(m, s) for captures in HISTORY for m, s, _h, _b in captures if m != at("2021-06-01T10:00:00")]
    recorded = history_of(store)
    assert [(row[0], row[2]) for row in recorded] == expected
    assert [row[1] for row in recorded] == ["changed", "changed", "error", "error", "changed"]
    assert [row[3] for row in recorded] == [archive.capture_url(moment) for moment, _status in expected]
    with store.session() as session:
        snapshots = session.scalars(select(Snapshot).order_by(Snapshot.fetched_at)).all()
        assert [s.archive_url for s in snapshots] == [recorded[i][3] for i in (0, 1, 4)]
        assert len({s.sha256 for s in snapshots}) == 3
        # The site's headers, not the archive's replay headers.
        assert all("Memento-Datetime" not in s.headers and "Link" not in s.headers for s in snapshots)
        assert snapshots[0].headers["Content-Type"] == ["text/html; charset=utf-8"]

    # "When did this clinic first claim schizophrenia?" — in the capture of 1 September 2021.
    claims = run_cli("claims", "--indication", "schizophrenia", "--json")
    assert claims.code == 0, claims.err
    (timeline,) = claims.json()["timelines"]
    assert timeline["clinic"] == "Harbor Light Clinic"
    assert timeline["first_claimed"]["at"] == "2021-09-01T10:00:00+00:00"
    assert timeline["first_claimed"]["previous_fetched_at"] == "2021-03-01T10:00:00+00:00"
    text = run_cli("claims", "--indication", "depression")
    assert "first claimed 2021-03-01 10:00:00 (possible)" in text.out

    # Findings yes, mail no.
    with store.session() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.new_fetched_at)).all()
        assert [(a.kind, a.indication, a.new_fetched_at) for a in alerts] == [
            ("new_indication", "schizophrenia", at("2021-09-01T10:00:00")),
            ("claim_strengthened", "depression", at("2022-06-01T10:00:00")),
        ]
        newest_archived = snapshots[-1].id
    mail = replace(settings, smtp_host="127.0.0.1")
    assert enqueue(store, mail) == 0

    # Idempotent: a second run fetches no payload and adds nothing.
    again = run_cli("backfill", archive.page_url, "--json")
    assert again.code == 0, again.err
    report = again.json()
    assert (report["checks"], report["already_recorded"], report["listed_via"]) == (0, 5, "cdx")
    assert history_of(store) == recorded

    # The first live capture is compared with the newest archived version, and that alert is news.
    archive.site_pages["/exosome-therapy"] = V4
    live = run_cli("check", archive.page_url)
    assert live.code == 0, live.err
    with store.session() as session:
        fresh = session.scalars(select(Alert).where(Alert.indication == "autism")).one()
        assert (fresh.kind, fresh.old_snapshot_id) == ("new_indication", newest_archived)
        assert session.get(Snapshot, fresh.new_snapshot_id).archive_url is None  # type: ignore[union-attr]
    assert enqueue(store, mail) == 1


def test_a_live_recurrence_of_an_archived_alert_is_news_once(  # type: ignore[no-untyped-def]
    archive: Archive, store: Store, settings: Settings, run_cli
) -> None:
    with store.session() as session:
        create_subscription(session, SubscriptionSpec(email="desk@newsroom.example"))
    assert run_cli("sources", "add", archive.page_url, "--backfill").code == 0
    mail = replace(settings, smtp_host="127.0.0.1")
    with store.session() as session:
        (archived,) = session.scalars(select(Alert).where(Alert.indication == "schizophrenia")).all()
        assert archived.from_archive and archived.new_fetched_at == at("2021-09-01T10:00:00")
        archived_id = archived.id

    def live_check(body: bytes) -> None:
        archive.site_pages["/exosome-therapy"] = body
        result = run_cli("check", archive.page_url)
        assert result.code == 0, result.err

    def schizophrenia_alerts() -> list[tuple[str, bool, int, int | None]]:
        with store.session() as session:
            alerts = session.scalars(select(Alert).where(Alert.indication == "schizophrenia").order_by(Alert.id)).all()
            return [(a.kind, a.from_archive, a.occurrences, a.details.get("archived_alert_id")) for a in alerts]

    # Live, the page drops schizophrenia (news), then claims it again exactly as in September 2021: the
    # archived alert was never mailed, so this recurrence is raised as a live alert once, and mailed.
    live_check(V1)
    assert schizophrenia_alerts() == [("new_indication", True, 1, None), ("indication_removed", False, 1, None)]
    mailed = enqueue(store, mail)
    assert mailed == 2  # indication_removed (schizophrenia) and claim_weakened (depression)
    live_check(V2)
    assert schizophrenia_alerts()[2:] == [("new_indication", False, 1, archived_id)]
    assert enqueue(store, mail) == 1
    assert enqueue(store, mail) == 0

    # Re-processing the live pair adds nothing; a further flip-flop only counts occurrences, unmailed.
    with store.session() as session:
        live = session.scalars(select(Alert).where(Alert.indication == "schizophrenia").order_by(Alert.id)).all()[-1]
        new, old = session.get(Snapshot, live.new_snapshot_id), session.get(Snapshot, live.old_snapshot_id or 0)
        assert new is not None and old is not None and new.text_version and old.text_version
        findings = compare(profile_of(session, old.text_version), profile_of(session, new.text_version))
        assert record_alerts(session, findings, old=old.text_version, new=new.text_version) == []
    assert len(schizophrenia_alerts()) == 3
    live_check(V1)
    live_check(V2)
    counted = schizophrenia_alerts()
    assert [a[2] for a in counted] == [1, 2, 2] and counted[2][3] == archived_id
    assert enqueue(store, mail) == 0

    # Listed everywhere, marked archived; left out of the feeds as from mail.
    listed = run_cli("alerts", "--indication", "schizophrenia", "--json").json()
    assert [(a["kind"], a["archived"]) for a in listed] == [
        ("new_indication", True),
        ("indication_removed", False),
        ("new_indication", False),
    ]
    with store.session() as session:
        feed = ET.fromstring(atom_feed(session, settings, feed_path="/feeds/alerts.atom", title="t", subtitle="s"))
        archived_ids = set(session.scalars(select(Alert.id).where(Alert.from_archive)))
        live_ids = set(session.scalars(select(Alert.id).where(~Alert.from_archive)))
    entries = {e.text.rsplit("/", 1)[1] for e in feed.iter(f"{{{ATOM_NS}}}id") if e.text and "/alert/" in e.text}
    assert archived_ids and live_ids and entries == {str(i) for i in live_ids}
    with TestClient(create_app(settings)) as client:  # the dashboard keeps them, marked
        listing = client.get("/alerts")
    assert listing.status_code == 200 and listing.text.count("archived capture</span>") == len(archived_ids)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_limit_and_date_range_resume_where_they_stopped(archive: Archive, store: Store, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sources", "add", archive.page_url).code == 0
    window = run_cli("backfill", "1", "--from", "2021-09-01", "--to", "2022-01-10", "--json").json()
    assert (window["listed"], window["checks"], window["first_capture"], window["last_capture"]) == (
        2,
        2,
        "2021-09-01T10:00:00+00:00",
        "2022-01-10T10:00:00+00:00",
    )
    first = run_cli("backfill", "1", "--limit", "2", "--json").json()
    assert (first["checks"], first["already_recorded"], first["left_by_limit"]) == (2, 2, 1)
    # The 2021-03 capture is older than stored history: compared with nothing before it, recorded all the same.
    assert first["recorded"][0]["captured_at"] == "2021-03-01T10:00:00+00:00"
    rest = run_cli("backfill", "1", "--json").json()
    assert (rest["checks"], rest["already_recorded"], rest["left_by_limit"]) == (1, 4, 0)
    assert len(history_of(store)) == 5
    assert run_cli("backfill", "1", "--from", "2023-01-01", "--to", "2022-01-01").code == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_archive_down_slow_or_private(  # type: ignore[no-untyped-def]
    archive: Archive, store: Store, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("sources", "add", archive.page_url).code == 0

    down = run_cli("backfill", "1", "--archive", f"http://127.0.0.1:{free_port()}/{COLLECTION}")
    assert down.code == 2
    assert down.err.strip().splitlines()[-1].startswith("error: archive http://127.0.0.1:")
    assert "unreachable" in down.err and "Traceback" not in down.err

    # A server that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setenv("WATCHER_DOWNLOAD_TIMEOUT", "0.5")
        slow = run_cli("backfill", "1", "--archive", f"http://127.0.0.1:{silent.getsockname()[1]}/{COLLECTION}")
    assert slow.code == 2
    assert "did not answer within 0.5 s" in slow.err.strip().splitlines()[-1]

    monkeypatch.setenv("WATCHER_ALLOW_PRIVATE_ADDRESSES", "0")
    monkeypatch.setenv("WATCHER_ALLOWED_NETWORKS", "")
    guarded = run_cli("backfill", "1")
    assert guarded.code == 2
    assert guarded.err.strip().splitlines()[-1] == "error: refused 127.0.0.1: loopback address"
    assert history_of(store) == []

    bad = run_cli("backfill", "1", "--archive", "ftp://archive.example/web")
    assert bad.code == 2 and "--archive" in bad.err


@dataclass
class _Gate:
    """A proxy in front of pywb without a CDX API, answering 429 to a payload's first request."""

    upstream: int
    seen: list[tuple[float, str, int]] = field(default_factory=list)
    limited: set[str] = field(default_factory=set)


def gate_handler(gate: _Gate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = self._answer()
            gate.seen.append((time.monotonic(), self.path, status))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self) -> tuple[int, list[tuple[str, str]], bytes]:
            path = urlsplit(self.path).path
            if path.endswith("/cdx"):
                return 404, [], b"no CDX API here"
            if "id_/" in path and path not in gate.limited:
                gate.limited.add(path)
                return 429, [("Retry-After", "1")], b"slow down"
            upstream = http.client.HTTPConnection("127.0.0.1", gate.upstream, timeout=30)
            try:
                upstream.request("GET", self.path)
                answer = upstream.getresponse()
                skip = {"content-length", "transfer-encoding", "connection", "date", "server"}
                return answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() not in skip], answer.read()
            finally:
                upstream.close()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_timemap_fallback_and_retry_after(archive: Archive, store: Store, run_cli) -> None:  # type: ignore[no-untyped-def]
    gate = _Gate(upstream=archive.port)
    server = ThreadingHTTPServer(("127.0.0.1", 0), gate_handler(gate))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert run_cli("sources", "add", archive.page_url).code == 0
        result = run_cli(
            "backfill", "1", "--archive", f"http://127.0.0.1:{server.server_address[1]}/{COLLECTION}", "--json"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 0, result.err
    report = result.json()
    # No digests in a TimeMap: all six captures are fetched; the duplicate is recorded as unchanged.
    assert (report["listed_via"], report["listed"], report["duplicates"]) == ("timemap", 6, 0)
    assert report["outcomes"] == {"changed": 3, "error": 2, "unchanged": 1}
    assert report["snapshots"] == 3
    # Every payload was refused once with 429, and asked again no sooner than its Retry-After.
    payloads = Counter(path for _t, path, _s in gate.seen if "id_/" in path)
    assert len(payloads) == 6 and set(payloads.values()) == {2}
    for path in payloads:
        (first, _p, refused), (second, _q, served) = [(t, p, s) for t, p, s in gate.seen if p == path]
        assert (refused, served) == (429, served) and served != 429
        assert second - first >= 1.0


def get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", url[len(f"{parts.scheme}://{parts.netloc}") :])
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_exported_warc_and_its_cdxj_replay_in_pywb(archive: Archive, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sources", "add", archive.page_url, "--backfill").code == 0
    warc = tmp_path / "harbor-light.warc.gz"
    exported = run_cli("export", "--format", "warc", "--output", str(warc))
    assert exported.code == 0, exported.err
    index = tmp_path / "harbor-light.cdxj"
    assert f"wrote the CDXJ index {index}" in exported.err
    lines = index.read_text(encoding="utf-8").splitlines()
    port = urlsplit(archive.page_url).port
    assert [line.split(" ", 2)[:2] for line in lines] == [
        [f"1,0,0,127:{port})/exosome-therapy", stamp]
        for stamp in ("20210301100000", "20210901100000", "20220601100000")
    ]
    # A collection served from the exported file and watcher's own index, not re-indexed by pywb.
    name = f"export-{uuid.uuid4().hex[:8]}"
    subprocess.run([str(BIN / "wb-manager"), "init", name], cwd=archive.root, check=True, capture_output=True)
    shutil.copy(warc, archive.root / "collections" / name / "archive" / warc.name)
    shutil.copy(index, archive.root / "collections" / name / "indexes" / "index.cdxj")
    assert_replays_history(archive, name)


def assert_replays_history(archive: Archive, collection: str) -> None:
    """pywb serves the three archived versions from ``collection``, as sent and in its replay frame."""
    replay = f"http://127.0.0.1:{archive.port}/{collection}"
    for stamp, body in (("20210301100000", V1), ("20210901100000", V2), ("20220601100000", V3)):
        assert get(f"{replay}/{stamp}id_/{archive.page_url}") == (200, body)
        status, shown = get(f"{replay}/{stamp}mp_/{archive.page_url}")  # the page as pywb's replay frame shows it
        assert status == 200 and b"Exosome therapy</h1>" in shown and b"wombat" in shown


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wacz_export_is_valid_and_replays_in_pywb(archive: Archive, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sources", "add", archive.page_url, "--backfill").code == 0
    wacz = tmp_path / "harbor-light.wacz"
    for wrong in (["--output", str(tmp_path / "a.zip")], [], ["--output", str(wacz), "--what", "alerts"]):
        refused = run_cli("export", "--format", "wacz", *wrong)
        assert refused.code == 2 and "Traceback" not in refused.err and not wacz.exists()
    exported = run_cli("export", "--format", "wacz", "--output", str(wacz))
    assert exported.code == 0, exported.err
    assert f"exported 3 snapshot(s) as WACZ to {wacz} (3 page(s), 3 index line(s))" in exported.err
    assert sorted(p.name for p in tmp_path.iterdir() if "watcher.db" not in p.name) == [wacz.name]  # nothing loose

    with zipfile.ZipFile(wacz) as package:
        assert package.testzip() is None
        stored = {info.filename: info.compress_type for info in package.infolist()}
        assert set(stored) == {
            "archive/data.warc.gz",
            "indexes/index.cdx",
            "pages/pages.jsonl",
            "datapackage.json",
            "datapackage-digest.json",
        }
        assert stored["archive/data.warc.gz"] == zipfile.ZIP_STORED  # readers seek into it
        manifest = json.loads(package.read("datapackage.json"))
        assert (manifest["profile"], manifest["wacz_version"]) == ("data-package", "1.1.1")
        assert (manifest["mainPageUrl"], manifest["mainPageDate"]) == (archive.page_url, "2022-06-01T10:00:00Z")
        assert {r["path"] for r in manifest["resources"]} == set(stored) - {
            "datapackage.json",
            "datapackage-digest.json",
        }
        for resource in manifest["resources"]:
            data = package.read(resource["path"])
            assert resource["name"] == resource["path"].rsplit("/", 1)[1]
            assert (resource["hash"], resource["bytes"]) == (f"sha256:{hashlib.sha256(data).hexdigest()}", len(data))
        digest = json.loads(package.read("datapackage-digest.json"))
        assert digest == {
            "path": "datapackage.json",
            "hash": f"sha256:{hashlib.sha256(package.read('datapackage.json')).hexdigest()}",
        }
        header, *pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        assert header["format"] == "json-pages-1.0"
        assert [(p["url"], p["ts"]) for p in pages] == [
            (archive.page_url, ts) for ts in ("2021-03-01T10:00:00Z", "2021-09-01T10:00:00Z", "2022-06-01T10:00:00Z")
        ]
        assert all("Exosome therapy" in p["title"] and p["id"].isdigit() for p in pages)
        index = package.read("indexes/index.cdx").decode().splitlines()
        assert [json.loads(line.split(" ", 2)[2])["filename"] for line in index] == ["data.warc.gz"] * 3

    # pywb unpacks the WACZ (its WARC and watcher's index, not re-indexed) into a collection and replays it.
    name = f"wacz-{uuid.uuid4().hex[:8]}"
    manager = str(BIN / "wb-manager")
    subprocess.run([manager, "init", name], cwd=archive.root, check=True, capture_output=True)
    subprocess.run(
        [manager, "add", "--unpack-wacz", name, str(wacz)], cwd=archive.root, check=True, capture_output=True
    )
    assert_replays_history(archive, name)


def wait_for_the_next_second(store: Store) -> None:
    with store.session() as session:
        latest = session.scalar(select(func.max(SnapshotRequisite.fetched_at)))
    deadline = time.monotonic() + 30
    while latest is not None and datetime.now(UTC).replace(microsecond=0) <= latest.replace(microsecond=0):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def page_with_requisites(assets: str, *paragraphs: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Stem cells | Harbor Light Clinic</title>"
        f"<link rel='stylesheet' href='/site.css'>{assets}</head><body><main><h1>Stem cell care</h1>{INTRO}"
        f"<img src='/logo.png' alt='logo'>{''.join(paragraphs)}</main></body></html>"
    ).encode()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_requisites_are_kept_deduplicated_and_replay_in_pywb(  # type: ignore[no-untyped-def]
    archive: Archive, store: Store, run_cli, tmp_path: Path
) -> None:
    # An off-site script on a second server (another origin), and an image on a never-fetched address.
    cdn_pages: dict[str, bytes] = {"/lib/app.js": b"console.log('clinic');\n"}
    cdn = ThreadingHTTPServer(("127.0.0.1", 0), type("Cdn", (_Site,), {"pages": cdn_pages}))
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    script = f"http://127.0.0.1:{cdn.server_address[1]}/lib/app.js"
    assets = f"<script src='{script}'></script><link rel='icon' href='http://169.254.169.254/favicon.ico'>"
    site = urlsplit(archive.page_url)
    url = f"{site.scheme}://{site.netloc}/stem-cells"
    style = f"{site.scheme}://{site.netloc}/site.css"
    pages = archive.site_pages
    pages.update({"/site.css": b"main { color: navy; }\n", "/logo.png": b"\x89PNG\r\n\x1a\nlogo-1"})
    try:
        added = run_cli("sources", "add", url, "--requisites", "--json")
        assert added.code == 0 and added.json()["requisites"] is True, added.err
        versions = [
            page_with_requisites(assets, MAY_HELP_DEPRESSION),
            page_with_requisites(assets, MAY_HELP_DEPRESSION, SCHIZOPHRENIA),  # the same requisites
            page_with_requisites(assets, PROVEN_DEPRESSION, SCHIZOPHRENIA),  # a new stylesheet
        ]
        for number, body in enumerate(versions):
            if number == 2:
                pages["/site.css"] = b"main { color: maroon; }\n"
            pages["/stem-cells"] = body
            wait_for_the_next_second(store)  # one capture per second: replay asks by 14-digit timestamps
            checked = run_cli("check", url)
            assert checked.code == 0, checked.err
    finally:
        cdn.shutdown()
        cdn.server_close()

    with store.session() as session:
        stored = session.scalars(select(Requisite).order_by(Requisite.id)).all()
        assert sorted(r.url.rsplit("/", 1)[1] for r in stored) == ["app.js", "logo.png", "site.css", "site.css"]
        assert session.get(Requisite, stored[0].id).content_type in ("text/css", "image/png", "text/javascript")  # type: ignore[union-attr]
        links = session.execute(select(SnapshotRequisite.snapshot_id, SnapshotRequisite.requisite_id)).all()
        assert len(links) == 9 and len({snapshot for snapshot, _r in links}) == 3
    off = run_cli("sources", "set", url, "--no-requisites")
    assert off.code == 0 and "requisites off" in off.out

    warc = tmp_path / "requisites.warc.gz"
    assert run_cli("export", "--format", "warc", "--source", url, "--output", str(warc)).code == 0
    index = (tmp_path / "requisites.cdxj").read_text(encoding="utf-8").splitlines()
    kinds = [
        (json.loads(line.split(" ", 2)[2])["url"], json.loads(line.split(" ", 2)[2]).get("mime")) for line in index
    ]
    assert sum(mime == "warc/revisit" for _u, mime in kinds) == 5  # 3 on the second capture, 2 on the third
    assert sum(u == style and mime != "warc/revisit" for u, mime in kinds) == 2

    name = f"requisites-{uuid.uuid4().hex[:8]}"
    subprocess.run([str(BIN / "wb-manager"), "init", name], cwd=archive.root, check=True, capture_output=True)
    shutil.copy(warc, archive.root / "collections" / name / "archive" / warc.name)
    shutil.copy(tmp_path / "requisites.cdxj", archive.root / "collections" / name / "indexes" / "index.cdxj")
    replay = f"http://127.0.0.1:{archive.port}/{name}"
    stamps = sorted(line.split(" ", 2)[1] for line in index if json.loads(line.split(" ", 2)[2])["url"] == style)
    # The stylesheet as each capture had it: the second is a revisit, served from the first response.
    expected = [b"main { color: navy; }\n", b"main { color: navy; }\n", b"main { color: maroon; }\n"]
    assert [get(f"{replay}/{stamp}id_/{style}") for stamp in stamps] == [(200, body) for body in expected]
    assert get(f"{replay}/{stamps[1]}id_/{script}") == (200, b"console.log('clinic');\n")
    status, shown = get(f"{replay}/{stamps[1]}mp_/{url}")
    assert status == 200 and f"/{name}/".encode() in shown and b"site.css" in shown


# --- the pure parts ---------------------------------------------------------------------------------


def test_parse_cdx_reads_both_json_flavours() -> None:
    rows = (
        b'[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],'
        b'["jp,clinic)/a","20200102030405","https://clinic.jp/a","text/html","200","AAA","1200"],'
        b'["jp,clinic)/a","20200202030405","https://clinic.jp/a","warc/revisit","-","AAA","500"]]'
    )
    assert parse_cdx(rows) == [
        ArchivedCapture("20200102030405", "https://clinic.jp/a", 200, "AAA", "text/html"),
        ArchivedCapture("20200202030405", "https://clinic.jp/a", None, "AAA", "warc/revisit"),
    ]
    lines = (
        b'{"urlkey": "jp,clinic)/a", "timestamp": "20200102030405", "url": "https://clinic.jp/a", '
        b'"mime": "text/html", "status": "301", "digest": "BBB"}\n'
        b'{"timestamp": "2020", "url": "https://clinic.jp/a"}\n'
    )
    assert parse_cdx(lines) == [ArchivedCapture("20200102030405", "https://clinic.jp/a", 301, "BBB", "text/html")]
    assert parse_cdx(b"") == [] and parse_cdx(b"[]") == []
    assert parse_cdx(b"<html>Wayback Machine</html>") is None


def test_site_headers_undo_the_archive() -> None:
    answered = [
        ("Content-Type", "text/html"),
        ("X-Archive-Orig-ETag", '"v7"'),
        ("X-Archive-Orig-Date", "Mon, 01 Mar 2021 10:00:00 GMT"),
        ("Date", "Wed, 02 Dec 2026 19:00:00 GMT"),
        ("Memento-Datetime", "Mon, 01 Mar 2021 10:00:00 GMT"),
        ("X-Archive-Src", "crawl-42.warc.gz"),
        ("Content-Encoding", "gzip"),
    ]
    assert site_headers(answered) == {
        "Content-Type": ["text/html"],
        "ETag": ['"v7"'],
        "Date": ["Mon, 01 Mar 2021 10:00:00 GMT"],
    }


def test_collapse_and_timemap() -> None:
    listed = [
        ArchivedCapture("20200301000000", "u", digest="B"),
        ArchivedCapture("20200101000000", "u", digest="A"),
        ArchivedCapture("20200201000000", "u", digest="A"),
        ArchivedCapture("20200401000000", "u", digest="A"),
    ]
    kept, dropped = collapse_digests(listed)
    assert [c.timestamp for c in kept] == ["20200101000000", "20200301000000", "20200401000000"]
    assert dropped == 1
    timemap = (
        b'<http://a.example/web/timemap/link/u>; rel="self"; type="application/link-format",\n'
        b'<u>; rel="original",\n'
        b'<http://a.example/web/20200101000000/u>; rel="first memento"; datetime="Wed, 01 Jan 2020 00:00:00 GMT",\n'
        b'<http://a.example/web/20200615123000/u>; rel="last memento"; datetime="Mon, 15 Jun 2020 12:30:00 GMT"\n'
    )
    assert [c.timestamp for c in parse_timemap(timemap, original="u")] == ["20200101000000", "20200615123000"]
