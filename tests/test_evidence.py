"""A clinic-level alert quotes as "before" a sentence of another page of the clinic: the dashboard, the
mails and the feeds name that page and its capture date (on the demo's story: the TMS page excluded
bipolar disorder before a new post claimed it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from watcher.config import load_settings
from watcher.db import Store
from watcher.demo.run import run_demo
from watcher.models import Alert, Snapshot, Source
from watcher.notify.render import alert_html, alert_views
from watcher.queries.evidence import before_origin
from watcher.web.app import create_app


def test_the_before_sentence_of_a_clinic_level_alert_names_its_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WATCHER_DATABASE_URL", "WATCHER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    run_demo(rounds=None, keep=tmp_path, echo=lambda line: None)
    settings = replace(load_settings({}), database_url=f"sqlite:///{tmp_path / 'watcher.db'}", data_dir=tmp_path)
    store = Store(settings.database_url)
    try:
        with store.session() as session:
            alert = session.scalars(select(Alert).where(Alert.indication == "bipolar_disorder")).one()
            assert alert.details["scope"] == "clinic" and alert.before
            origin = before_origin(session, alert)
            assert origin is not None and origin["url"].endswith("/aoba-mental/tms/")
            snapshot = session.get(Snapshot, origin["snapshot_id"])
            assert snapshot is not None and snapshot.source_id == origin["source_id"] != alert.source_id
            assert snapshot.fetched_at <= alert.new_fetched_at
            page_level = session.scalars(select(Alert).where(Alert.indication == "schizophrenia")).first()
            assert page_level is not None and before_origin(session, page_level) is None
            html = alert_html(alert_views(session, [alert.id], settings)[0])
            tms = session.get(Source, origin["source_id"])
            assert tms is not None and f'on another page of the clinic, <a href="{tms.url}">' in html
            alert_id = alert.id
    finally:
        store.dispose()
    with TestClient(create_app(settings)) as client:
        body = client.get(f"/alerts/{alert_id}").text
        assert f'on another page, <a href="/sources/{origin["source_id"]}">' in body
        assert f'href="/snapshots/{origin["snapshot_id"]}">captured' in body
