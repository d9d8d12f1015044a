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
    assert {"kind", "indication", "strength_before", "strength_after", "before", "after", "source_url", "clinic",
            "new_snapshot_id", "acknowledged_at"} <= set(rows[0])
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
        ("2026-03-03", "3", "True"), ("2026-03-06", "0", "False"), ("2026-03-07", "1", "True"), ("2026-03-09", "3", "True")]
    late = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", "--what", "claims", "--since",
                                                   "2026-03-06").out)))
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
