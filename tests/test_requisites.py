"""Page requisites: which URLs a page needs (``watcher.links.requisite_urls``), and the fetcher's
politeness (per-host delay on an injected clock, robots.txt) against a real local HTTP server. The
whole path (check, storage, revisit records, replay in pywb) is in tests/test_backfill.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watcher.config import Settings
from watcher.links import requisite_urls
from watcher.pipeline.requisites import PoliteFetcher
from watcher.web.app import create_app


def test_requisite_urls_of_a_page() -> None:
    html = b"""<!doctype html><html><head><base href="https://clinic.example/assets/">
      <link rel="Stylesheet" href="main.css"><link rel="shortcut icon" href="/favicon.ico">
      <link rel="canonical" href="https://clinic.example/page"><link rel="stylesheet" href="main.css#again">
      <script src="https://cdn.example/lib.js"></script><script>inline()</script></head>
      <body><img src="photo.jpg" srcset="photo-2x.jpg 2x, /wide.jpg 1200w"><img src="data:image/png;base64,AA">
      <video poster="poster.png"></video><a href="/other-page">a link, not a requisite</a></body></html>"""
    found = requisite_urls(html, content_type="text/html", base_url="https://clinic.example/page", limit=50)
    assert found == [
        "https://clinic.example/assets/main.css",
        "https://clinic.example/favicon.ico",
        "https://cdn.example/lib.js",
        "https://clinic.example/assets/photo.jpg",
        "https://clinic.example/assets/photo-2x.jpg",
        "https://clinic.example/wide.jpg",
        "https://clinic.example/assets/poster.png",
    ]
    assert len(requisite_urls(html, content_type="text/html", base_url="https://clinic.example/", limit=2)) == 2
    assert requisite_urls(b"", content_type="text/html", base_url="https://clinic.example/", limit=5) == []


class _Assets(BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 (one list per server below)

    def do_GET(self) -> None:
        self.seen.append(self.path)
        robots = b"User-agent: *\nDisallow: /private/\n"
        body = robots if self.path == "/robots.txt" else f"asset {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(host: str, seen: list[str]) -> Iterator[str]:
    server = ThreadingHTTPServer((host, 0), type("Assets", (_Assets,), {"seen": seen}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def assets() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    with serving("127.0.0.1", seen) as base:
        yield base, seen


def test_fetcher_waits_per_host_and_honours_robots(settings: Settings, assets: tuple[str, list[str]]) -> None:
    base, seen = assets
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    fetcher = PoliteFetcher(replace(settings, download_delay=2.0), sleep=sleep, clock=lambda: now[0])
    first = fetcher.get(f"{base}/a.css")
    assert first is not None and first.body == b"asset /a.css"
    assert fetcher.get(f"{base}/private/b.css") is None  # robots.txt says no: never requested
    with serving("127.0.0.2", seen) as other_host:  # another host on the loopback network
        assert fetcher.get(f"{other_host}/c.png") is not None
    assert seen == ["/robots.txt", "/a.css", "/robots.txt", "/c.png"]
    # robots.txt then a.css on one host: 2 s apart; the other host's first request did not wait for it.
    assert slept == [2.0, 2.0]


def test_fetcher_refuses_what_the_guard_refuses(settings: Settings, assets: tuple[str, list[str]]) -> None:
    base, seen = assets
    fetcher = PoliteFetcher(replace(settings, allowed_networks=(), obey_robots=False))
    assert fetcher.get(f"{base}/a.css") is None and seen == []
    assert fetcher.get("http://169.254.169.254/latest/meta-data/") is None


def test_requisites_from_the_api_and_seed_files(settings: Settings, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = "requisites-token"
    with TestClient(create_app(replace(settings, api_token=token))) as client:
        created = client.post(
            "/api/sources",
            headers={"Authorization": f"Bearer {token}"},
            json={"url": "http://127.0.0.1:9/with-assets", "requisites": True},
        )
    assert created.status_code == 201 and created.json()["requisites"] is True, created.text
    seeds = tmp_path / "sources.yaml"
    seeds.write_text(
        "sources:\n  - url: http://127.0.0.1:9/seeded\n    requisites: true\n  - url: http://127.0.0.1:9/plain\n",
        encoding="utf-8",
    )
    assert run_cli("sources", "import", str(seeds)).code == 0
    listed = {row["url"]: row["requisites"] for row in run_cli("sources", "list", "--json").json()}
    assert listed == {
        "http://127.0.0.1:9/with-assets": True,
        "http://127.0.0.1:9/seeded": True,
        "http://127.0.0.1:9/plain": False,
    }
    assert run_cli("sources", "set", "http://127.0.0.1:9/plain", "--requisites", "--json").json()["requisites"] is True
    nothing = run_cli("sources", "set", "http://127.0.0.1:9/plain")
    assert nothing.code == 2 and "--requisites/--no-requisites" in nothing.err
