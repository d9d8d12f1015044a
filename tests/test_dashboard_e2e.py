"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright),
served by uvicorn on 127.0.0.1 against a SQLite history: overview → clinic drift chart → page
history → diff, token login and triage, and proof that a malicious page's script never runs.

Skipped when /usr/bin/chromium is missing, except under CI=true where that is a failure.
``WATCHER_SCREENSHOTS=DIR`` saves a screenshot of each page visited (1366×768) into DIR.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from dashboard_factory import EVIL_CLINIC, build_dashboard_history
from history_factory import AOBA
from live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer

from watcher.config import load_settings
from watcher.db import Store
from watcher.web.app import create_app
from watcher.web.security import CONTENT_SECURITY_POLICY

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TOKEN = "browser-token"

pytestmark = pytest.mark.slow


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium); the browser tests need it")
    return CHROMIUM


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = replace(
        load_settings({}), data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'watcher.db'}", api_token=TOKEN
    )
    store = Store(settings.database_url)
    build_dashboard_history(store, settings)
    store.dispose()
    with LiveServer(create_app(settings)) as live:
        yield live


def test_dashboard_in_chromium(chromium: str, server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("WATCHER_SCREENSHOTS")
    dialogs: list[str] = []
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(120_000)  # a bound on a loaded machine, not a pace
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        # A CSP violation, a failed asset or an injected script shows up as a console message.
        page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}"))

        def shot(name: str) -> None:
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)

        def flag() -> object:
            return page.evaluate("typeof window.pwned === 'undefined' ? 'undefined' : String(window.pwned)")

        # Overview → a clinic's drift chart.
        response = page.goto(server.url + "/")
        assert response is not None and response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.locator("h1").inner_text() == "Claim drift on watched clinic pages"
        assert page.locator("tr.group a", has_text=EVIL_CLINIC).count() == 1  # shown as text
        shot("overview")
        page.locator("tr.group a", has_text=AOBA).first.click()
        page.wait_for_url("**/clinics/*")
        charts = page.locator("svg.chart.wide")
        assert charts.count() == 4
        assert charts.first.locator("path.line").get_attribute("d")
        assert charts.first.bounding_box()["width"] > 600  # type: ignore[index]
        shot("clinic")

        # Page history → the latest diff → the previous change, with highlighted insertions/deletions.
        page.locator("table.sources a.url", has_text="aoba.example/exosome").first.click()
        page.wait_for_url("**/sources/*")
        page.get_by_role("link", name="Diff of the last two versions").click()
        page.wait_for_url("**/diff**")
        assert page.locator("table.diff ins", has_text="統合失調症").count() == 1
        page.get_by_role("link", name="← Previous change").click()
        page.wait_for_url("**/diff?from=*")
        assert page.locator("table.diff ins", has_text="不安障害").count() == 1
        assert page.locator("table.diff del", has_text="統合失調症").count() == 1
        assert "line-through" in page.locator("table.diff del").first.evaluate(
            "el => getComputedStyle(el).textDecorationLine"
        )
        shot("diff")

        # Triage: log in with the token, acknowledge an open alert, see its state change.
        page.goto(server.url + "/alerts?state=open")
        page.get_by_role("link", name="Log in to triage").first.click()
        page.fill("#author", "Sato")
        page.fill("#token", TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/alerts?state=open")
        card = page.locator("article.alert-card").first
        alert_id = card.get_attribute("id")
        assert card.locator(".state").inner_text() == "open"
        card.get_by_role("button", name="Acknowledge").click()
        page.wait_for_load_state()
        assert page.locator(f"#{alert_id}").count() == 0  # no longer open
        page.goto(f"{server.url}/alerts/{alert_id.removeprefix('alert-')}")  # type: ignore[union-attr]
        assert page.locator("#triage .state").inner_text() == "acknowledged"
        assert "Sato" in page.locator("table.history").inner_text()
        shot("alert")

        # The malicious page: its text, title, alert and diff hold <script> and onerror payloads.
        page.goto(server.url + "/alerts")
        assert flag() == "undefined" and dialogs == [], "a script from a captured page ran"
        assert page.locator("blockquote", has_text="<script>pwned=1;alert(1)</script>").count() == 1
        for path in ("/", "/matrix", "/alerts", "/search?q=pwned", "/search?q=<script>"):
            page.goto(server.url + path)
            assert flag() == "undefined", path
        page.goto(server.url + "/search?q=pwned")
        page.locator("table.search-results a.url", has_text="evil.example").click()
        page.wait_for_url("**/sources/*")
        evil_source = page.url
        for link_name in ("Diff of the last two versions",):
            page.get_by_role("link", name=link_name).click()
            page.wait_for_load_state()
            assert page.locator("table.diff ins", has_text="<img src=x onerror=pwned=2;alert(1)>").count() == 1
            assert flag() == "undefined"
        page.goto(evil_source)
        page.get_by_role("link", name="Read this version").first.click()
        page.wait_for_url("**/snapshots/*")
        assert (
            "<script>pwned=1;alert(1)</script>" in page.locator("h1, .page-text").first.inner_text()
            or "<script>pwned=1;alert(1)</script>" in page.locator(".page-text").inner_text()
        )
        assert flag() == "undefined"
        shot("malicious")
        # The raw capture downloads; it is never rendered on the dashboard's origin.
        here = page.url
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download the raw capture").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".html")
        assert b"<script>pwned=1;alert(1)</script>" in Path(download.path()).read_bytes()
        assert page.url == here and flag() == "undefined"
        browser.close()

    assert dialogs == [], f"a script ran: {dialogs}"
    assert problems == [], problems


# Each check runs in the page; a problem comes back as a sentence naming the element.
_LAYOUT_CHECKS = """(phone) => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in ${width}`);
  const header = document.querySelector("header.site").getBoundingClientRect();
  if (phone && header.height > 90) problems.push(`the header is ${header.height} px tall`);
  for (const cell of document.querySelectorAll("table.diff td.text")) {
    const box = cell.getBoundingClientRect();
    if (box.width > 0 && box.width < Math.min(width * 0.6, 300))
      problems.push(`a diff text cell is ${Math.round(box.width)} px wide`);
  }
  for (const label of document.querySelectorAll("svg.chart text")) {
    const box = label.getBoundingClientRect();
    if (box.width > 0 && box.height < 11) problems.push(`chart label "${label.textContent}" is ${box.height} px tall`);
    if (box.width > 0 && box.left < 0) problems.push(`chart label "${label.textContent}" is cut at the left`);
  }
  for (const form of document.querySelectorAll("form.filters, form.filters select, form.filters input")) {
    const box = form.getBoundingClientRect();
    if (box.right > width + 1) problems.push(`${form.tagName} of the filters ends at ${box.right} px`);
  }
  return problems;
}"""


def test_every_page_fits_a_phone_and_a_desktop(chromium: str, server: LiveServer, tmp_path: Path) -> None:
    """At 390 px (a phone) and 1366 px: no page scrolls sideways, diff text keeps the width, chart
    labels stay legible, the filters fit, the header stays short, the matrix keeps clinic names in view."""
    from playwright.sync_api import sync_playwright
    from sqlalchemy import select

    from watcher.models import Clinic, Snapshot, Source

    store = Store(f"sqlite:///{tmp_path / 'watcher.db'}")
    with store.session() as session:
        clinic = session.scalar(select(Clinic.id).where(Clinic.name == AOBA))
        source = session.scalar(select(Source.id).where(Source.clinic_id == clinic).order_by(Source.id))
        first = session.scalar(select(Snapshot.id).where(Snapshot.source_id == source).order_by(Snapshot.fetched_at))
    store.dispose()
    paths = [
        "/",
        f"/clinics/{clinic}",
        "/matrix",
        f"/sources/{source}",
        f"/sources/{source}/diff?from={first}",
        f"/sources/{source}/diff?view=side&context=all",
        "/alerts",
        "/alerts/1",
        "/search?q=うつ病",
        f"/snapshots/{first}",
    ]
    shots = os.environ.get("WATCHER_SCREENSHOTS")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name, (width, height) in {"phone": (390, 844), "desktop": (1366, 768)}.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(10_000)
            for path in paths:
                page.goto(server.url + path)
                problems = page.evaluate(_LAYOUT_CHECKS, name == "phone")
                assert problems == [], f"{name} {path}: {problems}"
                if shots:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    label = path.strip("/").replace("/", "-").split("?")[0] or "overview"
                    page.screenshot(path=str(Path(shots) / f"{name}-{label}.png"), full_page=True)
            # The matrix scrolls inside its box, the clinic names stay put.
            page.goto(server.url + "/matrix")
            wrap = page.locator(".matrix-wrap")
            before = page.locator("table.matrix th[scope=row]").first.bounding_box()
            wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
            after = page.locator("table.matrix th[scope=row]").first.bounding_box()
            assert before is not None and after is not None and abs(after["x"] - before["x"]) < 1
            # On a phone the diff keeps both line numbers and marks; the findings sit under their line.
            page.goto(server.url + f"/sources/{source}/diff?from={first}")
            marked = page.locator("table.diff tr.has-finding td.marks").first
            assert marked.is_visible() and marked.inner_text().startswith("◆")
            page.close()
        browser.close()


def test_api_docs_work_offline(chromium: str, server: LiveServer) -> None:
    """/api/docs renders the API from packaged files: every request the page makes stays on this server."""
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto(server.url + "/api/docs")
        page.locator(".swagger-ui .info .title", has_text="watcher").wait_for(timeout=15_000)
        assert page.locator(".opblock-summary-path", has_text="/api/alerts").count() >= 1
        browser.close()
    assert requested and all(url.startswith(server.url) for url in requested), requested
