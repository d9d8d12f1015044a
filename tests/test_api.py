"""The JSON API (FastAPI, in-process TestClient): every endpoint, tokens, and clear 4xx answers.
On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from history_factory import AOBA, BIRCH, TERM_JA, URL_A, URL_B, History, build_history
from waiting import STARTUP_SECONDS, wait_for

from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.queries.timeline import timeline
from watcher.search import search
from watcher.sources import resolve_source
from watcher.web import api
from watcher.web.app import ROUTERS, create_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def history(store: Store, settings: Settings) -> History:
    return build_history(store, settings)


def client_for(settings: Settings, **changes: object) -> TestClient:
    return TestClient(create_app(replace(settings, **changes)))  # type: ignore[arg-type]


@pytest.fixture
def client(settings: Settings, history: History) -> Iterator[TestClient]:
    with client_for(settings, api_token=TOKEN) as test_client:
        yield test_client


def test_sources_timeline_snapshots_and_diffs(client: TestClient, history: History, store: Store) -> None:
    assert api.router in ROUTERS
    schema = client.get("/openapi.json").json()
    assert "/api/sources/{source_id}/timeline" in schema["paths"] and "/api/search" in schema["paths"]
    assert client.get("/api/docs").status_code == 200
    clinics = {c["name"]: c["sources"] for c in client.get("/api/clinics").json()}
    assert clinics == {AOBA: 2, BIRCH: 1}

    listing = client.get("/api/sources").json()
    assert [s["url"] for s in listing["items"]][:1] == [URL_A] and listing["next_offset"] is None
    first_page = client.get("/api/sources", params={"limit": 2}).json()
    assert len(first_page["items"]) == 2 and first_page["next_offset"] == 2
    assert len(client.get("/api/sources", params={"limit": 2, "offset": 2}).json()["items"]) == 2
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}):
        assert client.get("/api/sources", params=bad).status_code == 422
    one = client.get(f"/api/sources/{history.a}").json()
    assert (one["url"], one["clinic"], one["checks"], one["snapshots"]) == (URL_A, AOBA, 6, 4)
    missing = client.get("/api/sources/999999")
    assert missing.status_code == 404 and missing.json()["detail"] == "no source 999999"
    for bad_id in ("abc", "0", "-1", str(2**40)):
        assert client.get(f"/api/sources/{bad_id}").status_code == 422

    data = client.get(f"/api/sources/{history.a}/timeline").json()
    with store.session() as session:
        assert data == timeline(session, resolve_source(session, URL_A))
    assert [s["indications"] for s in data["snapshots"]][1] == {"depression": 4, "schizophrenia": 3}
    checks = client.get(f"/api/sources/{history.a}/checks", params={"limit": 4}).json()
    assert [c["outcome"] for c in checks["items"]] == ["changed", "error", "changed", "unchanged"]
    assert checks["next_offset"] == 4
    snaps = client.get(f"/api/sources/{history.a}/snapshots").json()["items"]
    assert [s["id"] for s in snaps] == [s["id"] for s in data["snapshots"]]

    at = client.get(f"/api/sources/{history.a}/text", params={"at": "2026-03-03"}).json()
    assert TERM_JA in at["text"] and at["snapshot"]["id"] == snaps[1]["id"]
    assert client.get(f"/api/sources/{history.a}/text", params={"at": "soon"}).status_code == 400
    early = client.get(f"/api/sources/{history.a}/text", params={"at": "2020-01-01"})
    assert early.status_code == 404 and "no snapshot at or before" in early.json()["detail"]
    assert client.get(f"/api/sources/{history.a}/text").status_code == 422

    diff = client.get(f"/api/sources/{history.a}/diff").json()
    assert diff["from"]["snapshot_id"] == snaps[2]["id"] and diff["to"]["snapshot_id"] == snaps[3]["id"]
    chosen = client.get(f"/api/sources/{history.a}/diff", params={"from": snaps[0]["id"], "to": snaps[1]["id"]}).json()
    assert TERM_JA in "".join(op["text"] for op in chosen["ops"] if op["op"] == "insert")
    other = client.get(f"/api/sources/{history.b}/snapshots").json()["items"][0]["id"]
    assert client.get(f"/api/sources/{history.a}/diff", params={"from": other}).status_code == 404
    lonely = client.get(f"/api/sources/{history.s}/diff")
    assert lonely.status_code == 400 and "a diff needs two" in lonely.json()["detail"]

    meta = client.get(f"/api/snapshots/{snaps[1]['id']}").json()
    assert meta["sha256"] == snaps[1]["sha256"] and meta["source_url"] == URL_A and "headers" in meta
    text = client.get(f"/api/snapshots/{snaps[1]['id']}/text").json()
    assert TERM_JA in text["text"] and text["source_id"] == history.a
    raw = client.get(f"/api/snapshots/{snaps[1]['id']}/raw")
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith(f'attachment; filename="snapshot-{snaps[1]["id"]}-')
    assert raw.headers["x-content-sha256"] == hashlib.sha256(raw.content).hexdigest() == snaps[1]["sha256"]
    assert raw.headers["content-security-policy"].startswith("sandbox") and b"<li>" in raw.content
    for suffix in ("", "/text", "/raw"):
        assert client.get(f"/api/snapshots/999999{suffix}").status_code == 404


def test_alerts_claims_and_search(client: TestClient, history: History, store: Store) -> None:
    newest = client.get("/api/alerts").json()
    items = newest["items"]
    assert items and items[0]["new_fetched_at"] >= items[-1]["new_fetched_at"]
    oldest = client.get("/api/alerts", params={"order": "asc", "limit": 500}).json()["items"]
    order = [(a["new_fetched_at"], a["id"]) for a in oldest]
    assert order == sorted(order) and len(oldest) == len(
        client.get("/api/alerts", params={"limit": 500}).json()["items"]
    )
    assert {a["clinic"] for a in client.get("/api/alerts", params={"clinic": BIRCH}).json()["items"]} == {BIRCH}
    by_url = client.get("/api/alerts", params={"source": URL_B}).json()["items"]
    assert by_url and {a["source_id"] for a in by_url} == {history.b}
    assert client.get("/api/alerts", params={"source": str(history.b)}).json()["items"] == by_url
    kinds = client.get("/api/alerts", params={"kind": "new_indication", "indication": "schizophrenia"}).json()
    assert [a["indication"] for a in kinds["items"]] == ["schizophrenia"]
    window = client.get("/api/alerts", params={"since": "2026-03-05", "until": "2026-03-06"}).json()["items"]
    assert window and {a["new_fetched_at"][:10] for a in window} <= {"2026-03-05", "2026-03-06"}
    paged = client.get("/api/alerts", params={"limit": 1, "order": "asc"}).json()
    assert paged["next_offset"] == 1 and paged["items"][0]["id"] == oldest[0]["id"]
    assert client.get("/api/alerts", params={"since": "yesterday"}).status_code == 400
    assert client.get("/api/alerts", params={"since": "2026-03-06", "until": "2026-03-01"}).status_code == 400
    assert client.get("/api/alerts", params={"clinic": "Nobody"}).status_code == 404
    assert client.get("/api/alerts", params={"source": "https://unknown.example/"}).status_code == 404
    assert client.get("/api/alerts", params={"order": "sideways"}).status_code == 422
    assert client.get("/api/alerts", params={"kind": "a\x00b"}).status_code == 400
    one = client.get(f"/api/alerts/{oldest[0]['id']}").json()
    assert one["id"] == oldest[0]["id"] and "details" in one
    assert client.get("/api/alerts/999999").status_code == 404

    claims = client.get("/api/claims", params={"indication": "schizophrenia"}).json()
    assert {t["indication"] for t in claims["timelines"]} == {"schizophrenia"}
    assert claims["current"][0]["clinics"][0]["clinic"] == AOBA
    assert {t["clinic"] for t in client.get("/api/claims", params={"clinic": BIRCH}).json()["timelines"]} == {BIRCH}

    found = client.get("/api/search", params={"q": TERM_JA}).json()
    with store.session() as session:
        assert found == search(session, TERM_JA)
    assert {h["source_url"] for h in found} >= {URL_A}
    assert client.get("/api/search", params={"q": TERM_JA, "clinic": BIRCH}).json() == []
    assert client.get("/api/search", params={"q": TERM_JA, "until": "2026-03-02"}).json() == []
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "   "}).status_code == 400
    assert client.get("/api/search", params={"q": "x" * 201}).status_code == 422
    assert client.get("/api/search").status_code == 422


def test_writes_and_tokens(settings: Settings, history: History) -> None:
    new_source = {"url": "https://new.example/page", "clinic": "New Clinic", "interval": "6h"}
    with client_for(settings) as closed:  # no token configured: writes are disabled
        refused = closed.post("/api/sources", json=new_source)
        assert refused.status_code == 403 and "WATCHER_API_TOKEN" in refused.json()["detail"]
        assert closed.post("/api/alerts/1/acknowledge").status_code == 403
        assert closed.get("/api/sources").status_code == 200, "reads are open by default"
    with client_for(settings, api_token=TOKEN) as client:
        anonymous = client.post("/api/sources", json=new_source)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/api/sources", json=new_source, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong API token"
        created = client.post("/api/sources", json=new_source, headers=AUTH)
        assert created.status_code == 201, created.text
        assert (created.json()["url"], created.json()["clinic"], created.json()["interval"]) == (
            "https://new.example/page",
            "New Clinic",
            "6h",
        )
        duplicate = client.post("/api/sources", json=new_source, headers=AUTH)
        assert duplicate.status_code == 409 and "already watched" in duplicate.json()["detail"]
        # What the schema refuses is a 422; what it admits but means nothing is a 400.
        for body, status in (
            ({"url": "ftp://x.example/"}, 422),
            ({"url": "https://y.example/", "interval": "soon"}, 422),
            ({"url": "http:///no-host"}, 400),
            ({"url": "https://y.example/", "interval": "0s"}, 400),
        ):
            assert client.post("/api/sources", json=body, headers=AUTH).status_code == status, body
        assert (
            client.post("/api/sources", json={"url": "https://y.example/", "color": "red"}, headers=AUTH).status_code
            == 422
        )
        assert client.post("/api/sources", json={"url": "https://y.example/\x00"}, headers=AUTH).status_code == 422
        assert client.post("/api/sources", content=b"{not json", headers=AUTH).status_code == 422

        alert_id = client.get("/api/alerts", params={"order": "asc"}).json()["items"][0]["id"]
        assert client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "desk"}).status_code == 401
        acked = client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "desk"}, headers=AUTH).json()
        assert acked["acknowledged_by"] == "desk" and acked["acknowledged_at"]
        again = client.post(f"/api/alerts/{alert_id}/acknowledge", headers=AUTH).json()
        assert again["acknowledged_at"] == acked["acknowledged_at"], "acknowledging is idempotent"
        assert [a["id"] for a in client.get("/api/alerts", params={"acknowledged": True}).json()["items"]] == [alert_id]
        assert alert_id not in [
            a["id"] for a in client.get("/api/alerts", params={"acknowledged": False, "limit": 500}).json()["items"]
        ]
        assert client.post("/api/alerts/999999/acknowledge", headers=AUTH).status_code == 404
        assert (
            client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "x" * 201}, headers=AUTH).status_code == 422
        )

        subscribed = client.post(
            "/api/subscriptions",
            json={"email": "desk@example.org", "clinics": [AOBA], "indications": ["schizophrenia"]},
            headers=AUTH,
        )
        assert subscribed.status_code == 201, subscribed.text
        assert subscribed.json()["clinics"] == [AOBA] and subscribed.json()["indications"] == ["schizophrenia"]
        same = client.post(
            "/api/subscriptions",
            json={"email": "desk@example.org", "clinics": [AOBA], "indications": ["schizophrenia"]},
            headers=AUTH,
        )
        assert same.status_code == 200 and same.json()["id"] == subscribed.json()["id"]
        assert client.post("/api/subscriptions", json={"email": "not-an-address"}, headers=AUTH).status_code == 400
        assert client.post("/api/subscriptions", json={"email": "a@example.org"}).status_code == 401
    with client_for(settings, api_token=TOKEN, api_read_token_required=True) as guarded:
        assert guarded.get("/api/alerts").status_code == 401
        assert guarded.get("/api/alerts", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert guarded.get("/api/alerts", headers=AUTH).status_code == 200
    with client_for(settings, api_read_token_required=True) as locked:
        assert locked.get("/api/sources").status_code == 403


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_command(tmp_path: Path) -> None:
    settings = replace(load_settings({}), data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}")
    Store(settings.database_url).dispose()
    port = _free_port()
    env = {**os.environ, **settings.as_env(), "WATCHER_LOG_LEVEL": "WARNING"}
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"watcher serve exited with status {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/sources", timeout=STARTUP_SECONDS)
        except httpx.TransportError:
            return False
        return True

    try:
        # Start-up imports FastAPI, SQLAlchemy and the app: seconds when idle, far more on a loaded machine.
        wait_for(answering, what=f"watcher serve to answer on port {port}", details=log.read_text)
        response = httpx.get(f"http://127.0.0.1:{port}/api/sources", timeout=STARTUP_SECONDS)
        assert response.status_code == 200 and response.json()["items"] == []
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=STARTUP_SECONDS).json()
        assert schema["info"]["title"] == "watcher"
    finally:
        process.terminate()
        process.wait(timeout=STARTUP_SECONDS)
