"""Alerts from processed snapshots: wiring, JSON shape, idempotence, the flip-flop rule, reanalysis,
and the `compare` / `alerts` / `reanalyze` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alert_factory import html_capture
from sqlalchemy import event, func, select

from watcher.capture import Capture
from watcher.claims import Finding
from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, ClaimProfileRecord, TextVersion
from watcher.pipeline.alerts import record_alerts
from watcher.pipeline.analyse import analyse_new_version, reanalyze
from watcher.pipeline.record import record_capture, record_captures
from watcher.sources import SourceSpec, add_sources

HEDGED = """<html><head><title>エクソソームとうつ病</title></head><body><main><article>
<h1>エクソソームとうつ病</h1>
<p>エクソソーム点滴は、うつ病の症状を和らげる可能性があります。</p>
<h2>参考文献</h2><ul>
<li>Dowlati Y, et al. A meta-analysis of cytokines in major depression. Biol Psychiatry. 2010;67(5):446-457. doi:10.1016/j.biopsych.2009.09.033</li>
<li>Miller AH, Raison CL. The role of inflammation in depression. Nat Rev Immunol. 2016;16(1):22-34. doi:10.1038/nri.2015.5</li>
</ul></article></main></body></html>"""
STRONG = """<html><head><title>エクソソームとうつ病</title></head><body><main><article>
<h1>エクソソームとうつ病</h1>
<p>エクソソーム点滴で、うつ病が改善することが臨床試験で証明されています。</p>
<h2>適応可能な精神症状</h2><ul><li>うつ病</li><li>統合失調症</li></ul>
<h2>参考文献</h2><ul>
<li>Miller AH, Raison CL. The role of inflammation in depression. Nat Rev Immunol. 2016;16(1):22-34. doi:10.1038/nri.2015.5</li>
</ul></article></main></body></html>"""
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def page_capture(source_id: int, day: int, html: str, url: str = "https://c.example/p") -> Capture:
    return html_capture(source_id, url, html.encode("utf-8"), T0 + timedelta(days=day))


def feed(store: Store, settings: Settings, source_id: int, pages: list[str]) -> None:
    for day, html in enumerate(pages):
        with store.session() as session:
            record_capture(
                session, page_capture(source_id, day, html), settings=settings, on_new_version=analyse_new_version
            )


def new_source(store: Store, url: str = "https://c.example/p") -> int:
    with store.session() as session:
        return add_sources(session, [SourceSpec(url=url, clinic="C Clinic")])[0].id


def alert_rows(store: Store) -> list[Alert]:
    with store.session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_findings_become_alerts_once(store: Store, settings: Settings) -> None:
    source_id = new_source(store)
    feed(store, settings, source_id, [HEDGED, STRONG])
    alerts = alert_rows(store)
    kinds = {(a.kind, a.indication) for a in alerts}
    assert ("claim_strengthened", "depression") in kinds
    assert ("new_indication", "schizophrenia") in kinds
    assert ("claim_strengthened", "schizophrenia") not in kinds, "a new indication is reported once"
    removed = [a for a in alerts if a.kind == "reference_removed"]
    assert len(removed) == 1 and "Dowlati" in (removed[0].reference or "")
    strengthened = next(a for a in alerts if a.kind == "claim_strengthened")
    assert (strengthened.strength_before, strengthened.strength_after) == (1, 4)
    assert "可能性があります" in (strengthened.before or "") and "証明されています" in (strengthened.after or "")
    assert strengthened.old_snapshot_id and strengthened.new_snapshot_id > strengthened.old_snapshot_id
    assert all(a.clinic_id is not None for a in alerts)
    # Re-feeding the same page changes nothing: same text, no snapshot, no alert.
    feed(store, settings, source_id, [STRONG])
    assert len(alert_rows(store)) == len(alerts)


def test_a_batch_of_changed_pages_inserts_its_profiles_together(store: Store, settings: Settings) -> None:
    """The analysis of a batch's changed pages neither flushes each page's profile on its own (its
    lookup of the previous profile does not autoflush) nor each page's alerts: the batch's profiles go
    in by one INSERT, and the alerts are those of the same pages recorded one at a time."""
    alone = new_source(store)
    feed(store, settings, alone, [HEDGED, STRONG])
    expected = sorted(
        (a.kind, a.indication, a.reference, a.strength_before, a.strength_after) for a in alert_rows(store)
    )
    urls = [f"https://c.example/batch-{n}" for n in range(3)]
    sources = [new_source(store, url) for url in urls]
    for source_id, url in zip(sources, urls, strict=True):
        with store.session() as session:
            record_capture(
                session, page_capture(source_id, 0, HEDGED, url), settings=settings, on_new_version=analyse_new_version
            )
    profile_inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CLAIM_PROFILES"):
            profile_inserts.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            captures = [page_capture(s, 1, STRONG, url) for s, url in zip(sources, urls, strict=True)]
            results = record_captures(session, captures, settings=settings, on_new_version=analyse_new_version)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert [r.outcome for r in results] == ["changed"] * 3
    assert len(profile_inserts) == 1
    with store.session() as session:
        for source_id in sources:
            alerts = session.scalars(select(Alert).where(Alert.source_id == source_id))
            assert (
                sorted((a.kind, a.indication, a.reference, a.strength_before, a.strength_after) for a in alerts)
                == expected
            )


def test_a_part_inserts_its_alerts_together_numbered_as_one_at_a_time(store: Store, settings: Settings) -> None:
    """A part's new alerts (several per changed page) go in by one INSERT (on SQLite numbered by the
    recording once it holds the writer lock, as its profiles are), and their ids follow each other in
    the order the pages were analysed and each page's findings recorded: the order recording the same
    pages one at a time gives them."""
    groups = {name: [new_source(store, f"https://{name}.example/p-{n}") for n in range(3)] for name in ("one", "part")}
    for name, sources in groups.items():
        for source_id in sources:
            with store.session() as session:
                record_capture(
                    session,
                    page_capture(source_id, 0, HEDGED, f"https://{name}.example/p"),
                    settings=settings,
                    on_new_version=analyse_new_version,
                )
    for source_id in groups["one"]:
        with store.session() as session:
            record_capture(
                session, page_capture(source_id, 1, STRONG), settings=settings, on_new_version=analyse_new_version
            )
    alert_inserts: list[int] = []  # parameter sets per INSERT INTO alerts

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ALERTS"):
            alert_inserts.append(len(parameters) if executemany else 1)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            captures = [page_capture(source_id, 1, STRONG) for source_id in groups["part"]]
            results = record_captures(session, captures, settings=settings, on_new_version=analyse_new_version)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert [r.outcome for r in results] == ["changed"] * 3

    def numbered(sources: list[int]) -> list[tuple[int, int, str]]:
        with store.session() as session:
            alerts = session.scalars(select(Alert).where(Alert.source_id.in_(sources)).order_by(Alert.id))
            return [(alert.id, sources.index(alert.source_id), alert.dedupe_key) for alert in alerts]

    one, part = numbered(groups["one"]), numbered(groups["part"])
    assert len(part) >= 6 and [rest for _id, *rest in part] == [rest for _id, *rest in one]
    ids = [alert_id for alert_id, *_rest in part]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    if store.engine.dialect.name == "sqlite":  # (PostgreSQL's ORM sends one multi-row INSERT anyway)
        assert alert_inserts == [len(ids)]


def test_alerts_not_flushed_yet_count_as_stored(store: Store, settings: Settings) -> None:
    """record_alerts leaves its new alerts to the caller's flush: a second call for the same version
    before that flush finds them and adds nothing (no duplicate identity for the flush to reject)."""
    source_id = new_source(store)
    feed(store, settings, source_id, [HEDGED, STRONG])
    finding = Finding("claim_strengthened", "high", indication="test_indication", strength_before=1, strength_after=3)
    with store.session() as session:
        old, new = session.scalars(
            select(TextVersion).where(TextVersion.source_id == source_id).order_by(TextVersion.id)
        )
        first = record_alerts(session, [finding], old=old, new=new)
        assert len(first) == 1 and first[0].id is None  # added, not flushed
        assert record_alerts(session, [finding], old=old, new=new) == []
        assert record_alerts(session, [finding], old=old, new=new, scope="clinic")[0].dedupe_key.startswith("clinic|")
    with store.session() as session:
        stored = session.scalars(select(Alert).where(Alert.indication == "test_indication")).all()
        assert sorted(alert.dedupe_key.split("|")[0] for alert in stored) == [
            "claim_strengthened:test_indication:3",
            "clinic",
        ]
        assert all(alert.occurrences == 1 for alert in stored)


def test_flip_flop_counts_recurrences_instead_of_new_alerts(store: Store, settings: Settings) -> None:
    source_id = new_source(store)
    feed(store, settings, source_id, [HEDGED, STRONG, HEDGED, STRONG, HEDGED, STRONG])
    alerts = alert_rows(store)
    keys = [(a.kind, a.indication, a.reference, a.strength_before, a.strength_after) for a in alerts]
    assert len(keys) == len(set(keys)), "no alert identity appears twice"
    strengthened = next(a for a in alerts if a.kind == "claim_strengthened" and a.indication == "depression")
    assert strengthened.occurrences == 3
    assert strengthened.last_snapshot_id is not None and strengthened.last_snapshot_id != strengthened.new_snapshot_id
    weakened = [a for a in alerts if a.kind == "claim_weakened" and a.indication == "depression"]
    assert len(weakened) == 1 and weakened[0].occurrences == 2


def test_reanalyze_rebuilds_profiles_without_alerting(store: Store, settings: Settings) -> None:
    source_id = new_source(store)
    feed(store, settings, source_id, [HEDGED, STRONG])
    before = len(alert_rows(store))
    with store.session() as session:
        session.query(ClaimProfileRecord).delete()
    with store.session() as session:
        report = reanalyze(session)
    assert report.profiles_rebuilt == 2 and report.text_versions_created == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ClaimProfileRecord)) == 2
    assert len(alert_rows(store)) == before


def test_alerts_command_json_and_filters(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    source_id = new_source(store)
    feed(store, settings, source_id, [HEDGED, STRONG])
    rows = run_cli("alerts", "--json").json()
    required = {
        "kind",
        "indication",
        "reference",
        "strength_before",
        "strength_after",
        "before",
        "after",
        "id",
        "source_url",
        "clinic",
        "detected_at",
        "old_snapshot_id",
        "new_snapshot_id",
    }
    assert rows and all(required <= set(row) for row in rows)
    assert rows[0]["source_url"] == "https://c.example/p" and rows[0]["clinic"] == "C Clinic"
    only = run_cli("alerts", "--kind", "new_indication", "--json").json()
    assert {r["indication"] for r in only} == {"schizophrenia"}
    assert run_cli("alerts", "--indication", "depression", "--source", str(source_id), "--json").json()
    assert run_cli("alerts", "--since", "2026-03-03", "--json").json() == []
    assert len(run_cli("alerts", "--since", "2026-03-02", "--json").json()) == len(rows)
    text = run_cli("alerts")
    assert "claim_strengthened: depression (possible → proven)" in text.out
    bad = run_cli("alerts", "--since", "yesterday")
    assert bad.code == 2 and "invalid date" in bad.err
    assert "re-extracted 0 text version(s), rebuilt 2" in run_cli("reanalyze").out


def test_compare_command(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    old, new = tmp_path / "old.html", tmp_path / "new.html"
    old.write_text(HEDGED, encoding="utf-8")
    new.write_text(STRONG, encoding="utf-8")
    findings = run_cli("compare", str(old), str(new), "--json").json()
    assert {(f["kind"], f["indication"]) for f in findings} >= {
        ("claim_strengthened", "depression"),
        ("new_indication", "schizophrenia"),
    }
    assert all(
        {"kind", "indication", "reference", "strength_before", "strength_after", "before", "after"} <= set(f)
        for f in findings
    )
    plain_old, plain_new = tmp_path / "old.txt", tmp_path / "new.txt"
    plain_old.write_text("TMS治療はうつ病に効果が期待されています。\n", encoding="utf-8")
    plain_new.write_text("TMS治療はうつ病に効果が期待されています。\n", encoding="utf-8")
    same = run_cli("compare", str(plain_old), str(plain_new))
    assert same.code == 0 and "no claim findings" in same.out
    missing = run_cli("compare", str(tmp_path / "nope.html"), str(new))
    assert missing.code == 2 and "cannot read" in missing.err
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    refused = run_cli("compare", str(binary), str(new))
    assert refused.code == 2 and "is binary" in refused.err  # more in tests/test_compare_cli.py
