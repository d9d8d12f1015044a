"""`watcher history`: the timeline of checks and snapshots with the claims and alerts of each version,
and `--at DATE`: the text in force at a date. On SQLite and PostgreSQL."""

from __future__ import annotations

from history_factory import URL_A, build_history

from watcher.config import Settings
from watcher.db import Store
from watcher.queries.dates import parse_when
from watcher.queries.timeline import timeline, version_at
from watcher.sources import resolve_source


def test_timeline_json_and_text(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    ids = build_history(store, settings)
    result = run_cli("history", str(ids.a), "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert set(data) >= {"source", "checks", "snapshots"}
    assert [c["outcome"] for c in data["checks"]] == ["changed", "error", "changed", "unchanged", "changed", "changed"]
    assert data["checks"][1]["http_status"] == 500 and data["checks"][1]["snapshot_id"] is None
    assert all(set(c) >= {"id", "checked_at", "outcome", "http_status", "body_sha256"} for c in data["checks"])
    snaps = data["snapshots"]
    assert [s["fetched_at"][:10] for s in snaps] == ["2026-03-01", "2026-03-03", "2026-03-06", "2026-03-09"]
    assert all(len(s["sha256"]) == 64 and len(s["text_sha256"]) == 64 for s in snaps)
    assert [s["indications"] for s in snaps] == [
        {"depression": 1},
        {"depression": 4, "schizophrenia": 3},
        {"anxiety": 3, "depression": 4},
        {"anxiety": 3, "depression": 4, "schizophrenia": 3},
    ]
    assert snaps[0]["indication_changes"] == [] and snaps[0]["alerts"] == []
    assert {"indication": "schizophrenia", "before": None, "after": 3} in snaps[1]["indication_changes"]
    kinds_v2 = {(a["kind"], a["indication"]) for a in snaps[1]["alerts"]}
    assert ("new_indication", "schizophrenia") in kinds_v2 and ("claim_strengthened", "depression") in kinds_v2
    assert ("indication_removed", "schizophrenia") in {(a["kind"], a["indication"]) for a in snaps[2]["alerts"]}
    again = [a for a in snaps[3]["alerts"] if a["kind"] == "new_indication"]
    assert len(again) == 1 and again[0]["recurrence"] and again[0]["occurrences"] == 2
    # The same data through the shared query function (the API and dashboard call it).
    with store.session() as session:
        assert timeline(session, resolve_source(session, URL_A))["snapshots"] == snaps

    text = run_cli("history", URL_A)
    assert text.code == 0, text.err
    assert "check #" in text.out and "error" in text.out and snaps[1]["sha256"] in text.out
    assert "claims: depression proven, schizophrenia asserted" in text.out
    assert "+schizophrenia (asserted)" in text.out and "depression possible → proven" in text.out
    assert "new_indication: schizophrenia" in text.out and "(recurrence)" in text.out


def test_text_at_a_date(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    ids = build_history(store, settings)
    # A bare date is the end of that day: the 09:00 capture of 3 March is in force "on 3 March".
    on_3rd = run_cli("history", str(ids.a), "--at", "2026-03-03")
    assert on_3rd.code == 0, on_3rd.err
    assert "統合失調症" in on_3rd.out and "証明されています" in on_3rd.out
    assert "in force until 2026-03-06 09:00:00" in on_3rd.err
    before = run_cli("history", str(ids.a), "--at", "2026-03-03T08:59:59").out
    assert "可能性があります" in before and "統合失調症" not in before, "the failed check of 2 March changes nothing"
    data = run_cli("history", URL_A, "--at", "2026-03-05T12:00:00+09:00", "--json").json()
    assert (
        data["snapshot"]["fetched_at"].startswith("2026-03-03")
        and data["next_snapshot"]["fetched_at"][:10] == "2026-03-06"
    )
    assert data["text"].startswith("# エクソソーム点滴とうつ病") and set(data) >= {"source", "at", "snapshot", "text"}
    latest = run_cli("history", str(ids.a), "--at", "2030-01-01", "--json").json()
    assert latest["snapshot"]["fetched_at"][:10] == "2026-03-09" and latest["next_snapshot"] is None
    none = run_cli("history", str(ids.a), "--at", "2026-02-28")
    assert none.code == 2 and none.err.count("\n") == 1
    assert "no snapshot at or before 2026-02-28T23:59:59.999999+00:00" in none.err and "2026-03-01" in none.err
    bad = run_cli("history", str(ids.a), "--at", "last tuesday")
    assert bad.code == 2 and "invalid date" in bad.err
    with store.session() as session:
        moment = parse_when("2026-03-06", end_of_day=True)
        assert moment is not None
        assert "不安障害" in version_at(session, resolve_source(session, str(ids.a)), moment)["text"]
