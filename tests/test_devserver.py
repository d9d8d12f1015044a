"""The local versioned site: rounds, charsets, placeholders, validators, routes and counters."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_for

from watcher.demo.site import RequestInfo, RouteResult, VersionedSite

SJIS = "<p>統合失調症</p>".encode("shift_jis")
EUCJP = "<p>うつ病</p>".encode("euc-jp")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("devsite")
    (base / "secret.txt").write_text("outside the root", encoding="utf-8")
    root = base / "site"
    page = root / "clinic" / "blog"
    page.mkdir(parents=True)
    (page / "1.html").write_text("<p>version one</p>", encoding="utf-8")
    (page / "3.html").write_text("<p>version three</p>", encoding="utf-8")
    late = root / "clinic" / "news"
    late.mkdir()
    (late / "2.html").write_text("<p>news</p>", encoding="utf-8")
    noisy = root / "noisy"
    noisy.mkdir()
    (noisy / "1.html").write_text("<p>{{csrf_token}} {{visitor_count}} {{served_at}}</p>", encoding="utf-8")
    (root / "about.html").write_text("<p>static</p>", encoding="utf-8")
    (root / "ja.sjis.html").write_bytes(SJIS)
    (root / "ja.eucjp.html").write_bytes(EUCJP)
    (root / "plain.nocharset.html").write_text("<p>plain</p>", encoding="ascii")
    versioned_sjis = root / "sjis-page"
    versioned_sjis.mkdir()
    (versioned_sjis / "1.sjis.html").write_bytes(SJIS)
    return root


@pytest.fixture(scope="module")
def site(root: Path) -> Iterator[VersionedSite]:
    with VersionedSite(root=root) as site:
        yield site


def get(
    site: VersionedSite, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_serves_on_an_ephemeral_loopback_port_with_a_big_backlog(site: VersionedSite) -> None:
    assert site.server_address[0] == "127.0.0.1" and site.port > 0
    assert site.request_queue_size == 1024 and site.daemon_threads
    assert site.url("/clinic/blog/") == f"http://127.0.0.1:{site.port}/clinic/blog/"
    assert site.url("x", host="localhost") == f"http://localhost:{site.port}/x"


def test_rounds_pick_the_latest_version(site: VersionedSite) -> None:
    expected = {
        1: b"<p>version one</p>",
        2: b"<p>version one</p>",
        3: b"<p>version three</p>",
        9: b"<p>version three</p>",
    }
    try:
        for round_number, body in expected.items():
            site.round = round_number
            assert get(site, "/clinic/blog/")[2] == body
    finally:
        site.round = 1


def test_a_page_can_appear_in_a_later_round(site: VersionedSite) -> None:
    try:
        site.round = 1
        assert get(site, "/clinic/news/")[0] == 404
        site.round = 2
        assert get(site, "/clinic/news/")[:3:2] == (200, b"<p>news</p>")
    finally:
        site.round = 1


def test_static_pages_and_charsets(site: VersionedSite) -> None:
    status, headers, body = get(site, "/about.html")
    assert (status, headers["Content-Type"], body) == (200, "text/html; charset=utf-8", b"<p>static</p>")
    assert get(site, "/ja.sjis.html")[1]["Content-Type"] == "text/html; charset=shift_jis"
    assert get(site, "/ja.sjis.html")[2] == SJIS
    _, headers, body = get(site, "/ja.eucjp.html")
    assert (headers["Content-Type"], body) == ("text/html; charset=euc-jp", EUCJP)
    assert get(site, "/plain.nocharset.html")[1]["Content-Type"] == "text/html"
    status, headers, body = get(site, "/sjis-page/")
    assert (status, headers["Content-Type"], body) == (200, "text/html; charset=shift_jis", SJIS)


def test_robots_default_and_404(site: VersionedSite) -> None:
    status, headers, body = get(site, "/robots.txt")
    assert status == 200 and b"Allow: /" in body and headers["Content-Type"].startswith("text/plain")
    assert get(site, "/missing/")[0] == 404
    assert get(site, "/../secret.txt")[0] == 404
    assert get(site, "/%2e%2e/secret.txt")[0] == 404


def test_folder_without_slash_redirects(site: VersionedSite) -> None:
    status, headers, _ = get(site, "/clinic/blog?x=1")
    assert (status, headers["Location"]) == (301, "/clinic/blog/?x=1")


def test_placeholders_change_but_the_etag_does_not(site: VersionedSite) -> None:
    first, second = get(site, "/noisy/"), get(site, "/noisy/")
    assert first[2] != second[2] and b"{{" not in first[2]
    assert first[1]["ETag"] == second[1]["ETag"] and first[1]["ETag"].startswith('"')
    count_one, count_two = (int(body.split()[1]) for _, _, body in (first, second))
    assert count_two > count_one


def test_conditional_requests(site: VersionedSite) -> None:
    _, headers, _ = get(site, "/clinic/blog/")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert get(site, "/clinic/blog/", {"If-None-Match": etag})[0] == 304
    assert get(site, "/clinic/blog/", {"If-None-Match": f'W/{etag}, "other"'})[0] == 304
    assert get(site, "/clinic/blog/", {"If-None-Match": '"other"'})[0] == 200
    status, headers_304, body = get(site, "/clinic/blog/", {"If-Modified-Since": modified})
    assert (status, body, headers_304["ETag"]) == (304, b"", etag)
    assert get(site, "/clinic/blog/", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    try:
        site.round = 3  # a new version: the old validators no longer match
        assert get(site, "/clinic/blog/", {"If-None-Match": etag})[0] == 200
        assert get(site, "/clinic/blog/", {"If-Modified-Since": modified})[0] == 200
    finally:
        site.round = 1


def test_head(site: VersionedSite) -> None:
    status, headers, body = get(site, "/about.html", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(b"<p>static</p>"))


def test_routes_hits_and_request_log(site: VersionedSite) -> None:
    def handler(info: RequestInfo) -> RouteResult:
        return 302, {"Location": "/about.html", "X-Query": info.query}, b""

    site.route("/go", handler)
    status, headers, _ = get(site, "/go?x=1", {"User-Agent": "test-agent"})
    assert (status, headers["Location"], headers["X-Query"]) == (302, "/about.html", "x=1")
    assert site.hits["/go"] == 1
    (seen,) = site.requests_to("/go")
    assert seen.header("user-agent") == "test-agent" and seen.method == "GET"
    site.unroute("/go")
    assert get(site, "/go")[0] == 404


def test_streamed_body_without_length(site: VersionedSite) -> None:
    site.route("/stream", lambda info: (200, {"Content-Type": "text/plain"}, iter([b"a" * 10, b"b" * 5])))
    status, headers, body = get(site, "/stream")
    assert status == 200 and body == b"a" * 10 + b"b" * 5 and "Content-Length" not in headers


def test_concurrency_is_counted_per_host(site: VersionedSite) -> None:
    gate = threading.Event()

    def slow(info: RequestInfo) -> RouteResult:
        gate.wait(120)  # released by the test as soon as all three are in
        return 200, {}, b"done"

    site.route("/gate", slow)
    before = site.max_concurrency[f"127.0.0.1:{site.port}"]
    threads = [threading.Thread(target=get, args=(site, "/gate")) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: site.hits["/gate"] >= 3, what="three requests to be in the handler at once")
    finally:
        gate.set()
    for thread in threads:
        thread.join()
    assert site.max_concurrency[f"127.0.0.1:{site.port}"] == max(before, 3)
    assert site.wait_idle()


def test_stop_is_idempotent_and_frees_the_port(root: Path) -> None:
    site = VersionedSite(root=root).start()
    port = site.port
    assert get(site, "/about.html")[0] == 200
    site.stop()
    site.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
