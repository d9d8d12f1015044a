"""A typo in a kind or indication filter is an error naming the choices, never an empty answer; an
indication may be named in Japanese or English; new_page is a kind like the others."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watcher.claims.compare import KINDS
from watcher.config import load_settings
from watcher.db import Store
from watcher.demo.run import run_demo
from watcher.errors import InputError
from watcher.queries.choices import ALERT_KINDS, alert_kind, indication_id
from watcher.subscriptions import SubscriptionSpec, create_subscription
from watcher.web.app import create_app


def test_kinds() -> None:
    assert set(KINDS) < set(ALERT_KINDS) and "new_page" in ALERT_KINDS
    assert alert_kind("new_page") == "new_page" and alert_kind(" claim_strengthened ") == "claim_strengthened"
    with pytest.raises(InputError, match=r"unknown alert kind 'bogus': use one of new_indication, .*new_page"):
        alert_kind("bogus")
    with pytest.raises(InputError, match=r"did you mean claim_strengthened or claim_weakened\?"):
        alert_kind("claim_strengthend")


NAMES = {
    "schizophrenia": "schizophrenia",
    "統合失調症": "schizophrenia",
    "Schizophrenia": "schizophrenia",
    "うつ病": "depression",
    "ADHD": "adhd",
    "parkinsons disease": "parkinsons_disease",
}
TYPOS = {
    "schizo": "did you mean schizophrenia?",
    "depresion": "did you mean depression",
    "flu": "ids are like depression",
}


def test_indications_by_id_or_name_and_typos_with_the_closest_ids() -> None:
    assert {given: indication_id(given) for given in NAMES} == NAMES
    for given, hint in TYPOS.items():
        with pytest.raises(InputError, match=f"unknown indication '{given}': {hint}"):
            indication_id(given)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's database: real alerts of every main kind, new_page included."""
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("WATCHER_DATABASE_URL", "WATCHER_DATA_DIR"):
            patch.delenv(name, raising=False)
        run_demo(rounds=None, keep=folder, echo=lambda line: None)
    return folder / "watcher.db"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from watcher.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_api_and_dashboard_reject_typos(
    demo_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_DATABASE_URL", f"sqlite:///{demo_db}")
    for args, message in [
        (("alerts", "--kind", "bogus"), "error: unknown alert kind 'bogus': use one of new_indication"),
        (("alerts", "--indication", "schizo"), "error: unknown indication 'schizo': did you mean schizophrenia?"),
        (("claims", "--indication", "schizo"), "error: unknown indication 'schizo'"),
    ]:
        code, _out, err = run(capsys, *args)
        assert code == 2 and err.strip().splitlines() == [err.strip()] and err.startswith(message), err
    by_id = json.loads(run(capsys, "alerts", "--indication", "schizophrenia", "--json")[1])
    assert by_id and json.loads(run(capsys, "alerts", "--indication", "統合失調症", "--json")[1]) == by_id
    new_pages = json.loads(run(capsys, "alerts", "--kind", "new_page", "--json")[1])
    assert [row["kind"] for row in new_pages] == ["new_page"]

    settings = replace(load_settings({}), database_url=f"sqlite:///{demo_db}", data_dir=demo_db.parent)
    with TestClient(create_app(settings)) as client:
        for path in ("/api/alerts?kind=bogus", "/api/alerts?indication=schizo", "/api/claims?indication=schizo"):
            response = client.get(path)
            assert response.status_code == 400 and "unknown" in response.json()["detail"], path
        assert client.get("/alerts?indication=schizo").status_code == 400
        assert "did you mean schizophrenia" in client.get("/alerts?indication=schizo").text
        assert [a["kind"] for a in client.get("/api/alerts?kind=new_page").json()["items"]] == ["new_page"]
        assert "new_page" in client.get("/alerts?kind=new_page").text
        feed = client.get("/feeds/kinds/new_page.atom")
        assert feed.status_code == 200 and feed.text.count("<entry>") == 1


def test_new_page_can_be_subscribed_to(demo_db: Path) -> None:
    store = Store(f"sqlite:///{demo_db}")
    try:
        with store.session() as session:
            subscription, created = create_subscription(
                session, SubscriptionSpec(email="desk@example.org", kinds=["new_page"], indications=["双極性障害"])
            )
            assert created and subscription.kinds == ["new_page"] and subscription.indications == ["bipolar_disorder"]
            with pytest.raises(InputError, match="unknown alert kind 'new_pages' \\(did you mean new_page\\?\\)"):
                create_subscription(session, SubscriptionSpec(email="desk@example.org", kinds=["new_pages"]))
            session.rollback()
    finally:
        store.dispose()
