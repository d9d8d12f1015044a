"""Rendering in the headless browser (Debian's chromium through scrapy-playwright), end to end: the real
CLI, the crawl subprocess, the browser and local HTTP servers on two loopback hosts — 127.0.0.2 is the
watched site, 127.0.0.3 a private host its scripts must not reach."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from spiders.__main__ import crawl_settings
from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.models import Alert, Check, Screenshot, Snapshot, raw_bytes
from watcher.notify.render import alert_views
from watcher.web.app import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

# The page's claim is not in the HTML: a script writes it, as page builders and SPA frameworks do.
JS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rivergate Clinic</title></head>
<body><div id="app"></div><noscript>This site needs JavaScript enabled.</noscript>
<script>
const paragraphs = {paragraphs};
document.getElementById("app").innerHTML = "<main><h1>Exosome infusions at Rivergate</h1>" +
  paragraphs.map(p => "<p>" + p + "</p>").join("") + "</main>";
{extra}
</script></body></html>"""
VERSION_1 = [
    "Our exosome infusion may ease low mood for some adults, and every visit starts with a long talk.",
    "Appointments are available on weekdays; please bring your current medication list with you.",
]
VERSION_2 = [
    "Our exosome infusion may ease low mood for some adults, and every visit starts with a long talk.",
    "Exosome infusion improves schizophrenia symptoms within weeks, our physicians report to every patient.",
    "Appointments are available on weekdays; please bring your current medication list with you.",
]
# Scripts reaching for the forbidden host: directly, through a redirect on the allowed host, and as an image.
PROBES = """
fetch("http://127.0.0.3:{port}/secret-fetch").catch(() => {{}});
fetch("/bounce").catch(() => {{}});
const img = new Image(); img.src = "http://127.0.0.3:{port}/secret-image.png"; document.body.appendChild(img);
"""
HANGING_PAGE = b"<!doctype html><html><body><p>spinning</p><script>for(;;){}</script></body></html>"


def js_page(paragraphs: list[str], extra: str = "") -> bytes:
    return JS_PAGE.format(paragraphs=json.dumps(paragraphs), extra=extra).encode("utf-8")


@pytest.fixture
def forbidden() -> Iterator[VersionedSite]:
    with VersionedSite(host="127.0.0.3") as server:
        server.route("/", lambda info: (200, {"Content-Type": "text/plain"}, b"private"))
        yield server


@pytest.fixture
def clinic(forbidden: VersionedSite) -> Iterator[VersionedSite]:
    with VersionedSite(host="127.0.0.2") as server:
        version = {"page": VERSION_1}
        probes = PROBES.format(port=forbidden.port)

        def page(info: RequestInfo) -> RouteResult:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, js_page(version["page"], probes)

        server.route("/clinic/", page)
        server.route("/bounce", lambda info: (302, {"Location": forbidden.url("/secret-redirect")}, b""))
        server.route("/hang/", lambda info: (200, {"Content-Type": "text/html"}, HANGING_PAGE))
        server.version = version  # type: ignore[attr-defined]
        yield server


def test_rendered_page_claims_alert_and_screenshots(
    clinic: VersionedSite, forbidden: VersionedSite, run_cli, store: Store, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rendered = clinic.url("/clinic/")
    static = clinic.url("/clinic/?static")
    assert run_cli("sources", "add", rendered, "--render", "--clinic", "Rivergate").code == 0
    assert run_cli("sources", "add", static, "--clinic", "Rivergate").code == 0

    first = run_cli("check", "--json")
    assert first.code == 0, first.err
    outcomes = {row["url"]: row for row in first.json()}
    assert outcomes[rendered]["outcome"] == "changed"
    # The same page fetched statically is an empty shell: a failed check with the hint.
    assert outcomes[static]["outcome"] in {"error", "blocked"}

    clinic.version["page"] = VERSION_2  # type: ignore[attr-defined]
    second = run_cli("check", "1", "--json")
    assert second.code == 0, second.err
    assert second.json()[0]["outcome"] == "changed"

    with store.session() as session:
        kinds = {(a.kind, a.indication) for a in session.scalars(select(Alert).where(Alert.source_id == 1))}
        assert ("new_indication", "schizophrenia") in kinds
        checks = {c.source_id: c for c in session.scalars(select(Check).order_by(Check.id))}
        assert checks[1].rendered and checks[1].hint is None
        assert not checks[2].rendered
        assert checks[2].hint is not None and "--render" in checks[2].hint and "app" in checks[2].hint
        shots = session.scalars(select(Screenshot).order_by(Screenshot.id)).all()
        snapshots = session.scalars(select(Snapshot).where(Snapshot.source_id == 1).order_by(Snapshot.id)).all()
        assert [s.snapshot_id for s in shots] == [s.id for s in snapshots]
        for shot in shots:
            assert shot.data.startswith(b"\x89PNG\r\n\x1a\n")
            assert shot.sha256 == hashlib.sha256(shot.data).hexdigest() and shot.size == len(shot.data)
        assert shots[0].sha256 != shots[1].sha256

    # Not one request of the page's scripts reached the private host: not directly, not by a redirect.
    assert forbidden.requests == []
    assert clinic.requests_to("/bounce"), "the script's fetch of the redirecting URL was made"

    history = run_cli("history", "2")
    assert "hint: looks like a JavaScript shell" in history.out and "--render" in history.out
    history = run_cli("history", "1")
    assert "(rendered)" in history.out and f"screenshot #{shots[1].id}  sha256 {shots[1].sha256}" in history.out
    evidence_surfaces(store, settings, run_cli, tmp_path, shots)


def evidence_surfaces(store: Store, settings: Settings, run_cli, tmp_path: Path, shots: list[Screenshot]) -> None:  # type: ignore[no-untyped-def]
    """Where the screenshots show: API download, dashboard version and diff views, alert mails, WARC."""
    old, new = shots
    with TestClient(create_app(settings)) as client:
        api = client.get(f"/api/snapshots/{new.snapshot_id}/screenshot")
        assert api.status_code == 200 and api.headers["content-type"] == "image/png"
        assert api.content == new.data and api.headers["x-content-sha256"] == new.sha256
        assert client.get(f"/api/snapshots/{new.snapshot_id}/screenshot?x=1").status_code == 200
        info = client.get(f"/api/snapshots/{new.snapshot_id}").json()
        assert info["screenshot"]["sha256"] == new.sha256
        diff = client.get(f"/sources/1/diff?from={old.snapshot_id}&to={new.snapshot_id}").text
        assert f'src="/snapshots/{old.snapshot_id}/screenshot"' in diff
        assert f'src="/snapshots/{new.snapshot_id}/screenshot"' in diff
        version = client.get(f"/snapshots/{new.snapshot_id}").text
        assert f'src="/snapshots/{new.snapshot_id}/screenshot"' in version and new.sha256 in version
        image = client.get(f"/snapshots/{old.snapshot_id}/screenshot")
        assert image.status_code == 200 and image.content == old.data
        assert client.get("/api/snapshots/999/screenshot").status_code == 404
    with store.session() as session:
        alert_ids = [a.id for a in session.scalars(select(Alert).where(Alert.source_id == 1))]
        views = alert_views(session, alert_ids, settings)
    changed = [v for v in views if v.old_snapshot_id == old.snapshot_id]
    assert changed and changed[0].new_screenshot_link == f"{settings.public_url}/snapshots/{new.snapshot_id}/screenshot"
    assert changed[0].old_screenshot_link == f"{settings.public_url}/snapshots/{old.snapshot_id}/screenshot"
    archive = tmp_path / "render.warc.gz"
    assert run_cli("export", "--format", "warc", "--output", str(archive)).code == 0
    with archive.open("rb") as stream:
        records = []
        for record in ArchiveIterator(stream, check_digests=True):
            record.payload = record.content_stream().read()
            records.append(record)
    responses = {r.rec_headers.get_header("Watcher-Snapshot-Id"): r for r in records if r.rec_type == "response"}
    resources = [r for r in records if r.rec_type == "resource"]
    assert len(resources) == 2
    for resource in resources:
        response = responses[resource.rec_headers.get_header("Watcher-Snapshot-Id")]
        assert resource.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
            "WARC-Record-ID"
        )
        assert resource.rec_headers.get_header("Content-Type") == "image/png"
        assert hashlib.sha256(resource.payload).hexdigest() == resource.rec_headers.get_header(
            "Watcher-Screenshot-SHA256"
        )


def test_hanging_page_is_a_failed_check_and_the_browser_goes_on(
    clinic: VersionedSite, run_cli, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # Generous: the well-behaved page, in a browser started for it alone, must finish within it on a loaded
    # machine too (4 s was too tight at load 17–21); the hanging page spins until it, whatever its value.
    monkeypatch.setenv("WATCHER_RENDER_TIMEOUT", "10")
    monkeypatch.setenv("WATCHER_BROWSER_MAX_PAGES", "1")  # a restart after every page, too
    hanging, fine = clinic.url("/hang/"), clinic.url("/clinic/")
    assert run_cli("sources", "add", hanging, fine, "--render").code == 0
    result = run_cli("check", "--json")
    assert result.code == 0, result.err
    rows = {row["url"]: row for row in result.json()}
    assert rows[hanging]["outcome"] == "error"
    assert rows[fine]["outcome"] == "changed"
    with store.session() as session:
        check = session.scalar(select(Check).where(Check.source_id == 1))
        assert check is not None and check.error_kind == "render_timeout"


def test_sources_set_toggles_rendering(run_cli, clinic: VersionedSite) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sources", "add", clinic.url("/clinic/")).code == 0
    row = run_cli("sources", "set", "1", "--render", "--json").json()
    assert row["render"] and row["screenshot"]
    row = run_cli("sources", "set", "1", "--no-render", "--json").json()
    assert not row["render"] and row["screenshot"]
    row = run_cli("sources", "set", "1", "--no-screenshot", "--json").json()
    assert not row["render"] and not row["screenshot"]
    bad = run_cli("sources", "set", "1")
    assert bad.code == 2 and "nothing to set" in bad.err
    both = run_cli("sources", "set", "1", "--render", "--no-screenshot")
    assert both.code == 2


def test_no_browser_without_a_rendered_target(settings: Settings) -> None:
    static = crawl_settings(settings, [FetchTarget(source_id=1, url="http://127.0.0.2/")], capture_fd=1)
    assert "spiders.browser" not in str(static["DOWNLOAD_HANDLERS"])
    assert not any(key.startswith("PLAYWRIGHT_") for key in static)
    rendered = crawl_settings(
        settings, [FetchTarget(source_id=1, url="http://127.0.0.2/", screenshot=True)], capture_fd=1
    )
    assert rendered["DOWNLOAD_HANDLERS"]["http"] == "spiders.browser.RenderingDownloadHandler"
    assert rendered["PLAYWRIGHT_LAUNCH_OPTIONS"]["executable_path"] == settings.browser_path
    assert rendered["WATCHER_RENDER_HOSTS"] == ["127.0.0.2"]
    # uvloop under the reactor for static crawls only; a rendered crawl keeps asyncio's own loop.
    assert static["ASYNCIO_EVENT_LOOP"] == "uvloop.Loop" and rendered["ASYNCIO_EVENT_LOOP"] is None


def test_screenshot_of_a_static_source_keeps_the_servers_bytes(
    clinic: VersionedSite, run_cli, store: Store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    clinic.route("/plain/", lambda info: (200, {"Content-Type": "text/html; charset=utf-8"}, PLAIN))
    assert run_cli("sources", "add", clinic.url("/plain/"), "--screenshot").code == 0
    assert run_cli("check").code == 0
    with store.session() as session:
        snapshot = session.scalars(select(Snapshot)).one()
        assert raw_bytes(snapshot) == PLAIN
        assert session.scalars(select(Screenshot)).one().snapshot_id == snapshot.id
        assert not session.scalars(select(Check)).one().rendered


PLAIN = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>NMN drip</title></head><body><main>"
    b"<h1>NMN drip</h1><p>NMN drips are expected to support energy levels in older adults, a hope that"
    b" studies are still testing; our nurses explain what is known before any course starts.</p>"
    b"<script>document.title = 'changed by a script';</script></main></body></html>"
)
