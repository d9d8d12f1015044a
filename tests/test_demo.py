"""`watcher demo` runs the whole pipeline on the bundled demo site and tells the story of
seeds/demo_site/README.md: the alerts it must raise, and the pages that must raise none."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from watcher.alerts import list_alerts
from watcher.db import Store
from watcher.demo import run_demo
from watcher.models import Check, Snapshot

REQUIRED = {
    ("exosome-depression", "claim_strengthened", "depression"),
    ("exosome-depression", "reference_removed", None),
    ("exosome-depression", "new_indication", "schizophrenia"),
    ("exosome-depression", "new_indication", "anxiety"),
    ("culture-supernatant", "new_indication", "autism"),
    ("culture-supernatant", "new_indication", "adhd"),
    ("culture-supernatant", "safety_claim_added", None),
    ("culture-supernatant", "testimonial_added", None),
    ("exosome-therapy", "new_indication", "parkinsons_disease"),
    ("exosome-therapy", "claim_strengthened", "stroke"),
    ("exosome-therapy", "claim_strengthened", "parkinsons_disease"),
    ("exosome-therapy", "reference_removed", None),
}
SILENT_PAGES = ("/aoba-mental/tms/", "/aoba-mental/inflammation-column/")


def test_demo_tells_the_story(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("WATCHER_DATABASE_URL", "WATCHER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    lines: list[str] = []
    run_demo(rounds=None, keep=tmp_path, echo=lines.append)
    output = "\n".join(lines)
    assert "ALERT" in output and "== summary ==" in output

    store = Store(f"sqlite:///{tmp_path / 'watcher.db'}")
    try:
        with store.session() as session:
            alerts = list_alerts(session)
            # Round 1 is checked twice; the repeat (rotating token, counter, timestamp) adds no snapshot.
            first_checks = session.scalar(select(func.count()).select_from(Check)) or 0
            snapshots = session.scalar(select(func.count()).select_from(Snapshot)) or 0
    finally:
        store.dispose()
    assert first_checks > snapshots > 0
    found = {(a["source_url"].rstrip("/").rsplit("/", 1)[-1], a["kind"], a["indication"]) for a in alerts}
    found_any_subject = found | {(page, kind, None) for page, kind, _ in found}
    missing = REQUIRED - found_any_subject
    assert not missing, f"demo alerts missing: {sorted(missing, key=str)}\n{output}"
    noisy = [a for a in alerts if a["source_url"].endswith(SILENT_PAGES)]
    assert not noisy, f"pages whose changes are noise raised alerts: {noisy}"
    nmn = [a for a in alerts if a["source_url"].endswith("/sakura-skin/nmn-drip/") and a["kind"] != "price_changed"]
    assert not nmn, f"the NMN page only changes date, price, menu and hours: {nmn}"
