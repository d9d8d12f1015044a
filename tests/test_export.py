"""`watcher export --format csv|json`: alerts, claim timelines and snapshot metadata, with filters.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from history_factory import AOBA, BIRCH, URL_B, build_history

from watcher.config import Settings
from watcher.db import Store


def test_csv_and_json_exports(store: Store, settings: Settings, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_history(store, settings)
    alerts = run_cli("alerts", "--json").json()
    as_json = run_cli("export", "--format", "json")
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out) == alerts, "the export says what `watcher alerts` says"
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", "--what", "alerts").out)))
    assert [int(r["id"]) for r in rows] == [a["id"] for a in alerts]
    assert {
        "kind",
        "indication",
        "strength_before",
        "strength_after",
        "before",
        "after",
        "source_url",
        "clinic",
        "new_snapshot_id",
        "acknowledged_at",
    } <= set(rows[0])
    assert any("統合失調症" in (r["after"] or "") for r in rows)
    birch = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", "--clinic", BIRCH).out)))
    assert birch and {r["clinic"] for r in birch} == {BIRCH}
    window = json.loads(run_cli("export", "--format", "json", "--since", "2026-03-04", "--until", "2026-03-06").out)
    assert window and all("2026-03-04" <= a["new_fetched_at"][:10] <= "2026-03-06" for a in window)
    by_source = json.loads(run_cli("export", "--format", "json", "--source", URL_B).out)
    assert by_source and {a["source_url"] for a in by_source} == {URL_B}

    snapshots = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", "--what", "snapshots").out)))
    assert len(snapshots) == 8
    assert {"snapshot_id", "source_url", "clinic", "fetched_at", "sha256", "size", "text_sha256"} <= set(snapshots[0])
    assert [r["fetched_at"] for r in snapshots] == sorted(r["fetched_at"] for r in snapshots)
    history = run_cli("history", URL_B, "--json").json()
    mine = [r for r in snapshots if r["source_url"] == URL_B]
    assert [r["sha256"] for r in mine] == [s["sha256"] for s in history["snapshots"]]

    claims = json.loads(run_cli("export", "--format", "json", "--what", "claims", "--clinic", AOBA).out)
    assert claims == run_cli("claims", "--clinic", AOBA, "--json").json()
    steps = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", "--what", "claims").out)))
    schizo = [r for r in steps if r["indication"] == "schizophrenia"]
    assert [(r["at"][:10], r["strength"], r["claimed"]) for r in schizo] == [
        ("2026-03-03", "3", "True"),
        ("2026-03-06", "0", "False"),
        ("2026-03-07", "1", "True"),
        ("2026-03-09", "3", "True"),
    ]
    late = list(
        csv.DictReader(
            io.StringIO(run_cli("export", "--format", "csv", "--what", "claims", "--since", "2026-03-06").out)
        )
    )
    assert all(r["at"][:10] >= "2026-03-06" for r in late) and late

    target = tmp_path / "out" / "alerts.csv"
    target.parent.mkdir()
    written = run_cli("export", "--format", "csv", "--output", str(target))
    assert written.code == 0 and written.out == "" and "exported alerts as csv" in written.err
    assert len(list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))) == len(alerts)
    bad = run_cli("export", "--format", "warc", "--what", "alerts")
    assert bad.code == 2 and "--what alerts needs --format csv or json" in bad.err
    assert run_cli("export", "--format", "csv", "--since", "2026-03-05", "--until", "2026-03-01").code == 2
    assert run_cli("export", "--format", "xml").code == 2
    nowhere = run_cli("export", "--format", "csv", "--output", str(tmp_path / "missing" / "x.csv"))
    assert nowhere.code == 2 and "cannot write" in nowhere.err


def test_excel_csv_empty_exports_and_new_filters(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    from watcher.export import ALERT_COLUMNS, CLAIM_COLUMNS, SNAPSHOT_COLUMNS

    build_history(store, settings)
    # The fixed columns are those of real rows, so an empty export has the same header as a full one.
    for what, columns in (("alerts", ALERT_COLUMNS), ("snapshots", SNAPSHOT_COLUMNS), ("claims", CLAIM_COLUMNS)):
        text = run_cli("export", "--format", "csv", "--what", what).out
        assert tuple(next(csv.reader(io.StringIO(text)))) == columns, what
        empty = run_cli("export", "--format", "csv", "--what", what, "--since", "2031-01-01").out
        assert empty == ",".join(columns) + "\n", what
    excel = run_cli("export", "--format", "csv", "--excel").out
    assert excel.startswith("\ufeffid,kind,") and "\r\n" in excel and excel.count("\n") == excel.count("\r\n")
    assert list(csv.DictReader(io.StringIO(excel.removeprefix("\ufeff")))) == list(
        csv.DictReader(io.StringIO(run_cli("export", "--format", "csv").out))
    )
    kinds = {a["kind"] for a in json.loads(run_cli("export", "--format", "json", "--kind", "new_indication").out)}
    assert kinds == {"new_indication"}
    by_name = json.loads(run_cli("export", "--format", "json", "--indication", "統合失調症").out)
    assert by_name and {a["indication"] for a in by_name} == {"schizophrenia"}
    claims = json.loads(run_cli("export", "--format", "json", "--what", "claims", "--indication", "anxiety").out)
    assert claims["timelines"] and {t["indication"] for t in claims["timelines"]} == {"anxiety"}
    for args, message in (
        (("--kind", "bogus"), "unknown alert kind 'bogus'"),
        (("--what", "claims", "--kind", "new_indication"), "the kind filter is for alerts"),
    ):
        bad = run_cli("export", "--format", "csv", *args)
        assert bad.code == 2 and message in bad.err


def test_downloads_from_the_dashboard_and_the_api(store: Store, settings: Settings) -> None:
    from dataclasses import replace

    from fastapi.testclient import TestClient
    from warcio.archiveiterator import ArchiveIterator

    from watcher.web.app import create_app

    build_history(store, settings)
    with TestClient(create_app(replace(settings, api_token=None))) as client:
        page = client.get("/export?what=alerts&format=csv&clinic=1")
        assert page.status_code == 200 and page.headers["content-type"] == "text/csv; charset=utf-8"
        assert page.headers["content-disposition"].startswith('attachment; filename="watcher-alerts-')
        assert page.content.startswith("\ufeffid,kind,".encode())  # Excel's byte-order mark by default
        api = client.get("/api/export", params={"what": "alerts", "format": "csv", "clinic": AOBA})
        assert api.status_code == 200 and not api.content.startswith(b"\xef\xbb\xbf")
        assert api.content.decode().replace("\n", "\r\n") == page.content.decode().removeprefix("\ufeff")
        filtered = client.get("/api/export", params={"format": "json", "kind": "claim_strengthened", "source": URL_B})
        assert {(a["kind"], a["source_url"]) for a in filtered.json()} == {("claim_strengthened", URL_B)}
        warc = client.get("/export", params={"what": "snapshots", "format": "warc", "source": URL_B})
        assert warc.headers["content-type"] == "application/warc"
        records = [
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(io.BytesIO(warc.content))
            if r.rec_type == "response"
        ]
        assert records == [URL_B, URL_B]
        assert client.get("/api/export?kind=nope").status_code == 400
        assert client.get("/export?format=xlsx").status_code == 400
        links = client.get("/alerts?kind=new_indication").text
        assert 'href="/export?what=alerts&amp;format=csv&amp;kind=new_indication"' in links
