"""Atom feeds of alerts and the one-click unsubscribe page, served by their routers in a small
FastAPI app of our own; the feeds are parsed as XML and checked against Atom 1.0's requirements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime

import pytest
from alert_factory import CLINIC_A, EN_NEW, EN_OLD, SCRIPT, URL_A, URL_B, change_both, feed, two_clinic_sources
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Clinic, Subscription
from watcher.subscriptions import SubscriptionSpec, create_subscription
from watcher.web import feeds, unsubscribe

A = "{http://www.w3.org/2005/Atom}"
PUBLIC = "https://watcher.example.org"


@pytest.fixture
def client(store: Store, settings: Settings) -> TestClient:
    app = FastAPI()
    app.state.store = store
    app.state.settings = replace(settings, public_url=PUBLIC)
    app.include_router(feeds.router)
    app.include_router(unsubscribe.router)
    return TestClient(app)


def atom(client: TestClient, path: str) -> ET.Element:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert b"<script" not in response.content, "page text is escaped"
    root = ET.fromstring(response.content)
    assert root.tag == f"{A}feed"
    # Atom 1.0 (RFC 4287 §4.1.1): exactly one id, title, updated; a self link; an author.
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1 and root.findtext(f"{A}{name}")
    datetime.fromisoformat(root.findtext(f"{A}updated", ""))
    self_links = [link for link in root.findall(f"{A}link") if link.get("rel") == "self"]
    assert [link.get("href") for link in self_links] == [PUBLIC + path]
    assert root.findtext(f"{A}author/{A}name") == "watcher"
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated", "summary", "content"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        assert entry.findtext(f"{A}id", "").startswith("tag:watcher.example.org,2026:watcher/alert/")
        datetime.fromisoformat(entry.findtext(f"{A}updated", ""))
        datetime.fromisoformat(entry.findtext(f"{A}published", ""))
        alternate = [link for link in entry.findall(f"{A}link") if link.get("rel") == "alternate"]
        alert_id = entry.findtext(f"{A}id", "").rsplit("/", 1)[1]
        assert [(link.get("type"), link.get("href")) for link in alternate] == [
            ("text/html", f"{PUBLIC}/alerts/{alert_id}"),
            ("application/json", f"{PUBLIC}/api/alerts/{alert_id}"),
        ]
        assert entry.find(f"{A}content").get("type") == "html"  # type: ignore[union-attr]
    return root


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def test_alert_feeds(store: Store, settings: Settings, client: TestClient) -> None:
    a, b = two_clinic_sources(store)
    change_both(store, settings, a, b)
    with store.session() as session:
        clinic_a = session.scalar(select(Clinic.id).where(Clinic.name == CLINIC_A))

    everything = atom(client, "/feeds/alerts.atom")
    items = entries(everything)
    assert len(items) == 6
    published = [entry.findtext(f"{A}published", "") for entry in items]
    assert published == sorted(published, reverse=True), "newest first"
    ids = [entry.findtext(f"{A}id") for entry in items]
    assert len(set(ids)) == 6
    assert [entry.findtext(f"{A}id") for entry in entries(atom(client, "/feeds/alerts.atom"))] == ids, "stable ids"
    assert everything.findtext(f"{A}id") == "tag:watcher.example.org,2026:watcher/feeds/alerts"

    strengthened = next(
        entry
        for entry in items
        if "claim strengthened: depression" in entry.findtext(f"{A}title", "")
        and URL_B in entry.findtext(f"{A}summary", "")
    )
    summary = strengthened.findtext(f"{A}summary", "")
    assert "before: TMS therapy may help with depression." in summary and SCRIPT in summary
    content = strengthened.findtext(f"{A}content", "")
    assert "<script" not in content and "&lt;script&gt;" in content, "the HTML content escapes page text"
    assert "<del" in content and "<ins" in content
    assert {c.get("term") for c in strengthened.findall(f"{A}category")} == {
        "claim_strengthened",
        "severity:high",
        "indication:depression",
    }

    per_clinic = entries(atom(client, f"/feeds/clinics/{clinic_a}.atom"))
    assert len(per_clinic) == 3 and all(URL_A in e.findtext(f"{A}summary", "") for e in per_clinic)
    per_kind = entries(atom(client, "/feeds/kinds/new_indication.atom"))
    assert sorted(e.findtext(f"{A}title", "").split(" — ")[0] for e in per_kind) == [
        "[high] new indication: anxiety 不安障害 (not claimed → asserted)",
        "[high] new indication: schizophrenia 統合失調症 (not claimed → asserted)",
    ]
    assert entries(atom(client, "/feeds/kinds/caveat_removed.atom")) == []

    for path, status, message in [
        ("/feeds/clinics/999.atom", 404, "no clinic with id '999'"),
        ("/feeds/clinics/aoba.atom", 404, "no clinic with id 'aoba'"),
        ("/feeds/kinds/nope.atom", 404, "unknown alert kind 'nope': use one of"),
    ]:
        response = client.get(path)
        assert response.status_code == status and message in response.json()["detail"]

    # A flip-flop recurrence moves the entry's updated time, not its id or published time.
    feed(store, settings, b, URL_B, [EN_OLD, EN_NEW], day0=2)
    again = next(
        e
        for e in entries(atom(client, "/feeds/alerts.atom"))
        if e.findtext(f"{A}id") == strengthened.findtext(f"{A}id")
    )
    assert again.findtext(f"{A}published") == strengthened.findtext(f"{A}published")
    assert again.findtext(f"{A}updated", "") > strengthened.findtext(f"{A}updated", "")


def test_one_click_unsubscribe(store: Store, client: TestClient) -> None:
    with store.session() as session:
        subscription, _ = create_subscription(session, SubscriptionSpec(email="reader@example.org"))
    token = subscription.unsubscribe_token
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "reader@example.org" in page.text and 'method="post"' in page.text
    assert client.post("/unsubscribe/reader@example.org").status_code == 404, "only the secret token works"
    done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Unsubscribed: reader@example.org" in done.text
    with store.session() as session:
        assert session.get(Subscription, subscription.id).active is False  # type: ignore[union-attr]
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 404


def test_feeds_follow_the_read_token_rule(store: Store, settings: Settings) -> None:
    app = FastAPI()
    app.state.store = store
    app.state.settings = replace(settings, public_url=PUBLIC, api_token="s3cret", api_read_token_required=True)
    app.include_router(feeds.router)
    app.include_router(unsubscribe.router)
    client = TestClient(app)
    assert client.get("/feeds/alerts.atom").status_code == 401
    assert client.get("/feeds/alerts.atom", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with store.session() as session:
        subscription, _ = create_subscription(session, SubscriptionSpec(email="reader@example.org"))
    assert client.get(f"/unsubscribe/{subscription.unsubscribe_token}").status_code == 200, "the link is the key"
