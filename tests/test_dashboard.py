"""The dashboard through FastAPI's TestClient, on SQLite and PostgreSQL: every page, filters, friendly
404s, the security headers, escaping of a malicious page, the raw download, the token login, CSRF and
triage. Pure helpers (charts, diff lines, sessions) are tested without a database at the end."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dashboard_factory import EVIL_CLINIC, PAYLOAD_IMG, PAYLOAD_SCRIPT, DashboardHistory, build_dashboard_history
from fastapi.testclient import TestClient
from history_factory import AOBA, BIRCH, URL_A, URL_B
from sqlalchemy import select

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, AlertTriage, Clinic, Snapshot
from watcher.web import dashboard
from watcher.web.app import ROUTERS, create_app
from watcher.web.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE, csrf_token, decode_session, session_secret

TOKEN = "team-token-42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def history(store: Store, settings: Settings) -> DashboardHistory:
    return build_dashboard_history(store, settings)


def client_for(settings: Settings, **changes: object) -> TestClient:
    return TestClient(create_app(replace(settings, **changes)))  # type: ignore[arg-type]


@pytest.fixture
def client(settings: Settings, history: DashboardHistory) -> Iterator[TestClient]:
    with client_for(settings, api_token=TOKEN) as test_client:
        yield test_client


def ids(store: Store, history: DashboardHistory) -> dict[str, object]:
    with store.session() as session:
        clinics = {c.name: c.id for c in session.scalars(select(Clinic))}
        snaps = {
            source: [
                s.id
                for s in session.scalars(
                    select(Snapshot).where(Snapshot.source_id == source).order_by(Snapshot.fetched_at)
                )
            ]
            for source in (history.base.a, history.base.b, history.evil)
        }
        alerts = {(a.kind, a.indication, a.source_id): a.id for a in session.scalars(select(Alert))}
    return {"clinics": clinics, "snaps": snaps, "alerts": alerts}


def parsed_tags(body: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element the browser would build from the page, with its attributes."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(body)
    return found


def assert_headers(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert_headers(response)
    return response.text


def login(client: TestClient, author: str = "Sato") -> None:
    token = CSRF.search(page(client, "/login")).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login",
        data={"author": author, "token": TOKEN, "csrf_token": token, "next": "/alerts"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/alerts"


def csrf_of(client: TestClient, path: str) -> str:
    found = CSRF.search(page(client, path))
    assert found is not None
    return found.group(1)


def test_router_is_mounted_and_every_page_renders(client: TestClient, store: Store, history: DashboardHistory) -> None:
    assert dashboard.router in ROUTERS
    known = ids(store, history)
    clinics, snaps = known["clinics"], known["snaps"]
    assert isinstance(clinics, dict) and isinstance(snaps, dict)
    a = history.base.a

    overview = page(client, "/")
    assert AOBA in overview and BIRCH in overview and URL_A in overview
    assert "4 proven" in overview and "統合失調症" in overview  # Aoba's current claims, Japanese label
    assert "changed" in overview and "HTTP 200" in overview  # last check and outcome
    assert 'href="/static/dashboard.css' in overview and f'href="/clinics/{clinics[AOBA]}"' in overview

    drift = page(client, f"/clinics/{clinics[AOBA]}")
    assert drift.count('<svg class="chart wide"') == 4  # depression, schizophrenia, anxiety + counts
    assert re.search(r'<path class="line strength" d="M[\d. ]+H', drift)
    assert "indications claimed" in drift and "references cited" in drift
    assert f'href="/snapshots/{snaps[a][1]}"' in drift  # a step links to its version

    matrix = page(client, "/matrix")
    alert_ids = known["alerts"]
    assert isinstance(alert_ids, dict)
    assert f'href="/alerts/{alert_ids[("claim_strengthened", "depression", a)]}"' in matrix
    assert "3 clinic(s) now" in matrix  # depression: Aoba, Birch, Evil

    history_page = page(client, f"/sources/{a}")
    assert f"/sources/{a}/diff?from={snaps[a][0]}&amp;to={snaps[a][1]}" in history_page
    assert "http_500" in history_page and "unchanged" in history_page
    assert f'href="/snapshots/{snaps[a][-1]}/raw"' in history_page

    inline = page(client, f"/sources/{a}/diff?from={snaps[a][0]}&to={snaps[a][1]}")
    assert "<ins>- 統合失調症</ins>" in inline
    assert "<del>の症状を和らげる可能性があり</del>ます。" in inline  # the edited line, diffed on characters
    assert "claim strengthened" in inline and "new indication" in inline
    side = page(client, f"/sources/{a}/diff?from={snaps[a][0]}&to={snaps[a][1]}&view=side")
    assert 'class="diff side"' in side and "<ins>" in side and "<del>" in side
    assert "Whole text" in page(client, f"/sources/{a}/diff")
    page(client, f"/sources/{a}/diff?context=all")

    version = page(client, f"/snapshots/{snaps[a][1]}?q=統合失調症")
    with store.session() as session:
        sha = session.get(Snapshot, snaps[a][1]).sha256  # type: ignore[union-attr]
    assert sha in version and '<mark class="hit">統合失調症</mark>' in version
    assert '<mark class="evidence">' in version

    alerts = page(client, "/alerts")
    assert alerts.count('class="alert-card') == 7  # incl. disclosure_removed: the price left the exosome page
    one = page(client, f"/alerts/{alert_ids[('claim_strengthened', 'depression', a)]}")
    assert "No triage yet" in one and "Log in with the team token" in one

    found = page(client, "/search?q=統合失調症")
    assert "2 page(s) contain" in found and '<mark class="hit">統合失調症</mark>' in found
    assert "Search every captured version" in page(client, "/search")
    assert 'name="token"' in page(client, "/login")


def test_filters(client: TestClient, store: Store, history: DashboardHistory) -> None:
    known = ids(store, history)
    clinics = known["clinics"]
    assert isinstance(clinics, dict)
    only_birch = page(client, f"/?clinic={clinics[BIRCH]}")
    assert URL_B in only_birch and URL_A not in only_birch
    schizo = page(client, "/?indication=schizophrenia")
    assert URL_A in schizo and URL_B not in schizo and "https://aoba.example/supernatant" in schizo
    new_only = page(client, "/?kind=new_indication")
    recent = new_only.split("Recent alerts", 1)[1]
    assert "new indication" in recent and "claim strengthened" not in recent

    assert page(client, "/alerts?kind=new_indication").count('class="alert-card') == 2
    assert page(client, f"/alerts?clinic={clinics[AOBA]}").count('class="alert-card') == 5
    assert page(client, f"/alerts?source={history.base.b}").count('class="alert-card') == 1
    assert page(client, "/alerts?severity=low").count('class="alert-card') == 1
    assert page(client, "/alerts?indication=anxiety").count('class="alert-card') == 1
    assert page(client, "/alerts?since=2026-03-06&until=2026-03-06").count('class="alert-card') == 2
    assert page(client, "/alerts?state=open").count('class="alert-card') == 7
    assert page(client, "/alerts?state=acknowledged").count('class="alert-card') == 0
    assert page(client, f"/search?q=depression&clinic={clinics[BIRCH]}").count('class="url"') >= 1

    for path in (
        "/alerts?kind=bogus",
        "/alerts?state=closed",
        "/?clinic=abc",
        "/alerts?since=yesterday",
        "/alerts?offset=-1",
        "/sources/1/diff?view=3d",
    ):
        assert "Bad request" in page(client, path, 400)


def test_unknown_ids_are_friendly_404_pages(client: TestClient, history: DashboardHistory) -> None:
    for path in (
        "/clinics/9999",
        "/clinics/abc",
        "/sources/9999",
        "/sources/x/diff",
        "/snapshots/9999",
        "/snapshots/9999/raw",
        "/alerts/9999",
        "/alerts/0",
        f"/sources/{history.base.a}/diff?from=9999",
        "/?clinic=9999",
        "/static/nope.js",
    ):
        body = page(client, path, 404)
        assert "Not found" in body and 'href="/"' in body


def test_raw_capture_is_a_download_never_a_page(client: TestClient, store: Store, history: DashboardHistory) -> None:
    with store.session() as session:
        snapshot = session.scalars(select(Snapshot).where(Snapshot.source_id == history.evil)).first()
        assert snapshot is not None
        snapshot_id, sha = snapshot.id, snapshot.sha256
    response = client.get(f"/snapshots/{snapshot_id}/raw")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="snapshot-{snapshot_id}-{sha[:12]}.html"'
    assert response.headers["x-content-sha256"] == sha == hashlib.sha256(response.content).hexdigest()
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert b"<script>pwned=1;alert(1)</script>" in response.content  # the capture as served, untouched
    assert sha in page(client, f"/snapshots/{snapshot_id}")


def test_malicious_page_is_escaped_everywhere(client: TestClient, store: Store, history: DashboardHistory) -> None:
    known = ids(store, history)
    snaps, clinics, alert_ids = known["snaps"], known["clinics"], known["alerts"]
    assert isinstance(snaps, dict) and isinstance(clinics, dict) and isinstance(alert_ids, dict)
    evil_alert = alert_ids[("claim_strengthened", "depression", history.evil)]
    paths = [
        "/",
        "/matrix",
        f"/clinics/{clinics[EVIL_CLINIC]}",
        f"/sources/{history.evil}",
        f"/sources/{history.evil}/diff",
        f"/sources/{history.evil}/diff?view=side",
        f"/snapshots/{snaps[history.evil][1]}",
        f"/snapshots/{snaps[history.evil][1]}?q=<script>",
        "/alerts",
        f"/alerts/{evil_alert}",
        "/search?q=pwned",
        "/search?q=<img src=x onerror=alert(1)>",
        f"/alerts?clinic={clinics[EVIL_CLINIC]}",
    ]
    escaped_script = "&lt;script&gt;pwned=1;alert(1)&lt;/script&gt;"
    for path in paths:
        body = page(client, path)
        # The dashboard ships no script at all: any <script> element or on* attribute would be injected.
        tags = parsed_tags(body)
        assert "script" not in {tag for tag, _attrs in tags}, path
        assert not [name for _tag, attrs in tags for name, _value in attrs if name.startswith("on")], path
        assert "<script" not in body.lower(), path
        assert PAYLOAD_SCRIPT not in body and PAYLOAD_IMG not in body, path
        assert escaped_script in body or "Evil &lt;script&gt;alert(1)&lt;/script&gt; Clinic" in body, path
    diff = page(client, f"/sources/{history.evil}/diff")
    assert "&lt;img src=x onerror=pwned=2;alert(1)&gt;" in diff and "<ins>" in diff


def test_token_login_csrf_and_triage(client: TestClient, store: Store, history: DashboardHistory) -> None:
    alert_id = ids(store, history)["alerts"][("claim_strengthened", "depression", history.base.a)]  # type: ignore[index]
    target = f"/alerts/{alert_id}/triage"

    # No session, no token: refused.
    with client_for(client.app.state.settings) as fresh:  # type: ignore[attr-defined]
        assert fresh.post(target, data={"action": "acknowledge"}).status_code == 403
    # A session and its CSRF token, but not logged in: refused.
    token = csrf_of(client, "/login")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    response = client.post(target, data={"action": "acknowledge", "csrf_token": token})
    assert response.status_code == 403 and "log in" in response.text
    assert_headers(response)
    # A wrong token at login is refused; the CSRF token is required at login too.
    bad = client.post("/login", data={"author": "Sato", "token": "nope", "csrf_token": token})
    assert bad.status_code == 403 and "not the team token" in bad.text
    assert client.post("/login", data={"author": "Sato", "token": TOKEN}).status_code == 403

    login(client, "Sato <b>Desk</b>")
    assert client.cookies.get(SESSION_COOKIE) != cookie, "login issues a new session"
    # The token of the anonymous session is dead.
    assert client.post(target, data={"action": "acknowledge", "csrf_token": token}).status_code == 403
    token = csrf_of(client, f"/alerts/{alert_id}")
    # Cross-site POSTs are refused even with a valid token and cookie.
    assert (
        client.post(
            target, data={"action": "acknowledge", "csrf_token": token}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            target, data={"action": "acknowledge", "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
        ).status_code
        == 403
    )
    with store.session() as session:
        assert session.scalar(select(AlertTriage)) is None

    response = client.post(
        target,
        data={"action": "acknowledge", "csrf_token": token, "note": "checked the page", "next": "/alerts#alert-1"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/alerts#alert-1"
    detail = page(client, f"/alerts/{alert_id}")
    assert "acknowledged</span>" in detail and "Sato &lt;b&gt;Desk&lt;/b&gt;" in detail and "checked the page" in detail
    # The JSON API sees the same state.
    assert alert_id not in [a["id"] for a in client.get("/api/alerts?acknowledged=false").json()["items"]]

    for action, state in (("false_positive", "false positive"), ("note", "false positive"), ("reopen", "open")):
        client.post(target, data={"action": action, "csrf_token": token, "note": f"{action} note"})
        assert f"{state}</span>" in page(client, f"/alerts/{alert_id}"), action
    with store.session() as session:
        rows = list(
            session.scalars(select(AlertTriage).where(AlertTriage.alert_id == alert_id).order_by(AlertTriage.id))
        )
        assert [r.action for r in rows] == ["acknowledge", "false_positive", "note", "reopen"]
        assert {r.author for r in rows} == {"Sato <b>Desk</b>"} and all(r.created_at for r in rows)
        assert session.get(Alert, alert_id).acknowledged_at is None  # type: ignore[union-attr]
    client.post(target, data={"action": "false_positive", "csrf_token": token})
    assert page(client, "/alerts?state=false_positive").count('class="alert-card') == 1
    assert page(client, "/alerts?state=open").count('class="alert-card') == 6
    # Bad actions and unknown alerts.
    assert client.post(target, data={"action": "delete", "csrf_token": token}).status_code == 400
    assert (
        client.post("/alerts/9999/triage", data={"action": "note", "note": "x", "csrf_token": token}).status_code == 404
    )
    assert client.post(target, data={"action": "note", "csrf_token": token}).status_code == 400  # empty note

    logout = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.post(target, data={"action": "acknowledge", "csrf_token": token}).status_code == 403


def test_session_cookie_flags_and_disabled_login(settings: Settings, history: DashboardHistory) -> None:
    with client_for(settings, api_token=TOKEN) as client:
        response = client.get("/login")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
        forged = client.cookies.get(SESSION_COOKIE)[:-3] + "abc"  # type: ignore[index]
        client.cookies.set(SESSION_COOKIE, forged)
        assert "Signed in" not in page(client, "/")
    with client_for(settings, api_token=TOKEN, public_url="https://watcher.example.org") as client:
        assert "Secure" in client.get("/login").headers["set-cookie"]  # behind a TLS proxy
    with client_for(settings, api_token="") as client:
        assert "Logging in is disabled" in page(client, "/login")
        secret = session_secret(client.app.state.settings)  # type: ignore[attr-defined]
        session = decode_session(client.cookies.get(SESSION_COOKIE), secret)
        assert session is not None
        token = csrf_token(session, secret)
        refused = client.post("/alerts/1/triage", data={"action": "acknowledge", "csrf_token": token})
        assert refused.status_code == 403 and "WATCHER_API_TOKEN" in refused.text


def test_read_token_required_means_login_first(settings: Settings, history: DashboardHistory) -> None:
    with client_for(settings, api_token=TOKEN, api_read_token_required=True) as client:
        response = client.get("/alerts?state=open", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login?next=/alerts%3Fstate%3Dopen"
        assert client.get("/snapshots/1/raw", follow_redirects=False).status_code == 303
        login(client)
        assert "Recent alerts" in page(client, "/")


def test_diff_stepping_and_mail_links(client: TestClient, store: Store, history: DashboardHistory) -> None:
    snaps = ids(store, history)["snaps"][history.base.a]  # type: ignore[index]
    a = history.base.a
    latest = page(client, f"/sources/{a}/diff")
    assert f'rel="prev" href="/sources/{a}/diff?from={snaps[-3]}&amp;to={snaps[-2]}"' in latest
    assert 'rel="next"' not in latest
    first = page(client, f"/sources/{a}/diff?from={snaps[0]}&to={snaps[1]}&view=side")
    assert 'rel="prev"' not in first
    assert f'rel="next" href="/sources/{a}/diff?from={snaps[1]}&amp;to={snaps[2]}&amp;view=side"' in first
    moved = client.get(f"/diff/{a}?from={snaps[0]}&to={snaps[1]}", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == f"/sources/{a}/diff?from={snaps[0]}&to={snaps[1]}"
    assert "a diff needs two" in page(client, f"/sources/{history.base.n}/diff", 400)


def test_head_requests_and_feed_links(client: TestClient, history: DashboardHistory) -> None:
    for path in ("/", "/alerts", "/api/alerts", "/feeds/alerts.atom", "/api/docs"):
        head, get = client.head(path), client.get(path)
        assert head.status_code == get.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    feed = '<link rel="alternate" type="application/atom+xml" href="/feeds/alerts.atom"'
    assert all(feed in page(client, path) for path in ("/", "/matrix", "/alerts"))
    assert '<link rel="alternate" type="application/atom+xml" href="/feeds/clinics/1.atom"' in page(
        client, "/clinics/1"
    )
    assert 'href="/feeds/kinds/new_indication.atom"' in page(client, "/alerts?kind=new_indication")


def test_no_asset_leaves_the_origin(client: TestClient, history: DashboardHistory) -> None:
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@import" not in css.text and "url(http" not in css.text and "//" not in css.text.replace("/*", "")
    assert client.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"
    for path in ("/", "/matrix", "/alerts", "/search?q=TMS", f"/sources/{history.base.a}"):
        body = page(client, path)
        for tag in re.findall(r"<(?:link|img|script|iframe|object|embed|source)\b[^>]*>", body):
            assert re.search(r'(?:href|src)="/', tag), tag
        for link in re.findall(r'<a [^>]*href="(?:https?:)?//[^"]*"[^>]*>', body):
            assert 'rel="noopener noreferrer"' in link, link


# --- pure helpers ---------------------------------------------------------------------------------


def test_strength_chart_geometry() -> None:
    from watcher.web.charts import Step, strength_chart

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    chart = strength_chart(
        [Step(t0, 1, "a"), Step(t0 + timedelta(days=2), 4, "b", "/snapshots/2")],
        start=t0,
        end=t0 + timedelta(days=4),
        title="t",
    )
    series = chart.series[0]
    assert series.path.startswith(f"M{float(chart.left)} ") and " H" in series.path and " V" in series.path
    assert [p.value for p in series.points] == [1, 4] and series.points[1].href == "/snapshots/2"
    assert series.points[1].y < series.points[0].y  # stronger is higher
    assert [t.label for t in chart.y_ticks] == ["0 none", "1 possible", "2 expected", "3 asserted", "4 proven"]
    assert chart.x_ticks and chart.x_ticks[0].label == "2026-03-02"


def test_diff_lines_and_findings() -> None:
    from watcher.changes import diff_texts
    from watcher.web.diffview import aligned_lines, inline_rows, place_findings, side_by_side_rows

    old = "# Title\nTMS may help with depression.\nsame line\n" + "\n".join(f"filler {i}" for i in range(20))
    new = "# Title\nTMS is proven to cure depression.\nsame line\n" + "\n".join(f"filler {i}" for i in range(20))
    lines = aligned_lines(diff_texts(old, new).lines)
    old_lines, new_lines = lines.old, lines.new
    placed = place_findings(
        [
            {
                "kind": "claim_strengthened",
                "before": "TMS may help with depression.",
                "after": "TMS is proven to cure depression.",
            }
        ],
        old=old_lines,
        new=new_lines,
    )
    assert placed[0]["old_line"] == 2 and placed[0]["new_line"] == 2
    rows = inline_rows(lines, context=1)
    assert [r.kind for r in rows] == ["same", "removed", "added", "same", "fold"]
    assert rows[-1].folded == 20
    assert any(s.op == "insert" for s in rows[2].line.segments)  # type: ignore[union-attr]
    side = side_by_side_rows(lines, context=None)
    assert side[1].kind == "change" and side[1].old is old_lines[1] and side[1].new is new_lines[1]


def test_sessions_and_helpers() -> None:
    from watcher.web.security import (
        SESSION_SECONDS,
        decode_session,
        encode_session,
        new_session,
        safe_next,
    )
    from watcher.web.templating import highlight, text_lang

    secret = b"k" * 32
    session = new_session(author="佐藤")
    value = encode_session(session, secret)
    assert decode_session(value, secret) == session
    assert decode_session(value, b"x" * 32) is None
    assert decode_session(value + "x", secret) is None
    assert decode_session(value, secret, now=session.issued + SESSION_SECONDS + 1) is None
    assert decode_session("garbage", secret) is None and decode_session(None, secret) is None
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "", None, "alerts"):
        assert safe_next(bad) == "/"
    assert safe_next("/alerts?state=open#alert-3") == "/alerts?state=open#alert-3"
    assert highlight("a <b> A", [("a", "hit")]) == [("a", "hit"), (" <b> ", None), ("A", "hit")]
    assert text_lang("統合失調症") == "ja" and text_lang("depression") == "en"


def test_a_bug_is_still_an_html_page_with_the_headers(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from watcher.config import load_settings
    from watcher.web import dashboard

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(dashboard, "source_overview", broken)
    settings = replace(load_settings({}), data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}")
    with client_for(settings) as client:
        body = page(client, "/", 500)
        assert "Internal error" in body and "boom" not in body
