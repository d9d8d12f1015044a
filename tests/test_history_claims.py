"""`watcher claims`: per clinic × indication, first claimed, strength over time, dropped; and which
clinics claim an indication now, and since when. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from history_factory import AOBA, BIRCH, URL_A, URL_S, build_history

from watcher.config import Settings
from watcher.db import Store
from watcher.errors import InputError
from watcher.queries.claims import claim_timelines


def find(data: dict, clinic: str | None, indication: str) -> dict:  # type: ignore[type-arg]
    return next(t for t in data["timelines"] if t["clinic"] == clinic and t["indication"] == indication)


def test_claim_timelines(store: Store, settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    build_history(store, settings)
    result = run_cli("claims", "--json")
    assert result.code == 0, result.err
    data = result.json()
    schizo = find(data, AOBA, "schizophrenia")
    # The exosome page lists it on 3 March, drops it on 6 March; the supernatant page claims it
    # (possible) on 7 March; the exosome page lists it again on 9 March.
    steps = [(s["at"][:10], s["strength"], s["source_url"]) for s in schizo["steps"]]
    assert steps == [
        ("2026-03-03", 3, URL_A),
        ("2026-03-06", 0, URL_A),
        ("2026-03-07", 1, URL_S),
        ("2026-03-09", 3, URL_A),
    ]
    first = schizo["first_claimed"]
    assert first["at"].startswith("2026-03-03T09:00") and first["previous_fetched_at"].startswith("2026-03-01T09:00")
    assert first["previous_snapshot_id"] is not None and first["previous_snapshot_id"] < first["snapshot_id"]
    assert schizo["steps"][2]["previous_snapshot_id"] is None, "a new page has no version before"
    assert schizo["claimed_now"] and schizo["current_strength"] == 3 and schizo["dropped_at"] is None
    assert schizo["claimed_since"].startswith("2026-03-07")
    depression = find(data, AOBA, "depression")
    assert [(s["at"][:10], s["strength"]) for s in depression["steps"]] == [("2026-03-01", 1), ("2026-03-03", 4)]
    assert [(s["at"][:10], s["strength"]) for s in find(data, BIRCH, "depression")["steps"]] == [
        ("2026-03-02", 1),
        ("2026-03-05", 4),
    ]
    current = {item["indication"]: item["clinics"] for item in data["current"]}
    assert [(c["clinic"], c["since"][:10], c["strength"]) for c in current["depression"]] == [
        (AOBA, "2026-03-01", 4),
        (BIRCH, "2026-03-02", 4),
    ]
    assert [(c["clinic"], c["since"][:10]) for c in current["schizophrenia"]] == [(AOBA, "2026-03-07")]

    only = run_cli("claims", "--indication", "schizophrenia", "--json").json()
    assert {t["indication"] for t in only["timelines"]} == {"schizophrenia"}
    assert find(only, AOBA, "schizophrenia")["steps"] == schizo["steps"], "filtering keeps the drops"
    birch = run_cli("claims", "--clinic", BIRCH, "--json").json()
    assert {t["clinic"] for t in birch["timelines"]} == {BIRCH}
    text = run_cli("claims", "--indication", "schizophrenia")
    assert "schizophrenia: first claimed 2026-03-03 09:00:00 (asserted)" in text.out
    assert "the page before: snapshot" in text.out and "of 2026-03-01 09:00:00" in text.out
    source_a = schizo["steps"][0]["source_id"]
    assert (
        f"the page just before: watcher history {source_a} --at 2026-03-01T09:00:00+00:00  (what changed: "
        f"watcher diff {source_a} --from {first['previous_snapshot_id']} --to {first['snapshot_id']})"
    ) in text.out
    before = run_cli("history", str(source_a), "--at", first["previous_fetched_at"])
    assert "可能性があります" in before.out and "統合失調症" not in before.out
    assert "dropped (#" in text.out and "claimed now (asserted) since 2026-03-07 09:00:00" in text.out
    assert "claimed now, across clinics:" in text.out
    with store.session() as session:
        assert claim_timelines(session) == data
        # One indication is computed in the database (window function): the same answer.
        for name in {t["indication"] for t in data["timelines"]}:
            assert claim_timelines(session, indication=name)["timelines"] == [
                t for t in data["timelines"] if t["indication"] == name
            ], name
        assert claim_timelines(session, indication="tinnitus") == {  # an indication nobody claims
            "analyser_version": data["analyser_version"],
            "timelines": [],
            "current": [],
        }
        with pytest.raises(InputError, match="unknown indication 'no_such_thing'"):  # a typo is no empty answer
            claim_timelines(session, indication="no_such_thing")


def test_claims_of_a_stronger_page_hide_a_weaker_one(store: Store, settings: Settings) -> None:
    """The clinic's strength is the strongest claim among its pages in force."""
    from history_factory import A_V2, S_V1, capture

    from watcher.sources import SourceSpec, add_sources

    with store.session() as session:
        a, s = (
            x.id for x in add_sources(session, [SourceSpec(url=URL_A, clinic=AOBA), SourceSpec(url=URL_S, clinic=AOBA)])
        )
    capture(store, settings, a, URL_A, 0, A_V2)
    capture(store, settings, s, URL_S, 1, S_V1)
    with store.session() as session:
        data = claim_timelines(session, indication="schizophrenia")
    assert [(x["at"][:10], x["strength"]) for x in find(data, AOBA, "schizophrenia")["steps"]] == [("2026-03-01", 3)]
