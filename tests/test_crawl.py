"""The crawl end to end: a real local site, the real spider in a real subprocess.

Most behaviours are checked on one shared crawl of many targets (each on its own path, so hit
counts stay independent); the cases that need other settings or a misbehaving child run their own.
"""

from __future__ import annotations

import base64
import inspect
import itertools
import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from watcher import crawl as crawl_module
from watcher.capture import Capture, FetchTarget
from watcher.config import Settings
from watcher.crawl import crawl
from watcher.demo.site import Handler, RequestInfo, RouteResult, VersionedSite
from watcher.netguard import LOOPBACK_NETWORKS

JA_TEXT = "幹細胞培養上清液はうつ病の改善が期待されています。"
SJIS_PAGE = f'<html><head><meta charset="shift_jis"></head><body><p>{JA_TEXT}</p></body></html>'
ROBOTS = "User-agent: watcher\nDisallow: /private/\n"
BACKOFF = 0.2
MAX_BODY = 200_000


def fast_settings(**overrides: object) -> Settings:
    """Loopback allowed, no politeness delay, quick backoff: the crawl as the tests want it."""
    base = Settings(
        allowed_networks=LOOPBACK_NETWORKS,
        download_delay=0.0,
        retry_backoff=BACKOFF,
        retry_times=2,
        download_timeout=60.0,
        max_body_bytes=MAX_BODY,
        autothrottle=True,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The child inherits the environment, and Scrapy honours http_proxy: keep the tests hermetic.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


# -- the site ---------------------------------------------------------------------------------------


def _counting(responses: list[RouteResult]) -> Handler:
    """A handler answering with ``responses`` in turn (the last one repeats)."""
    calls = {"n": 0}

    def handler(info: RequestInfo) -> RouteResult:
        index = min(calls["n"], len(responses) - 1)
        calls["n"] += 1
        return responses[index]

    return handler


def _slow(seconds: float, *, release: threading.Event | None = None) -> Handler:
    """A page that takes ``seconds`` to answer (or less, once ``release`` is set)."""

    def handler(info: RequestInfo) -> RouteResult:
        if release is None:
            time.sleep(seconds)
        else:
            release.wait(seconds)
        return 200, {"Content-Type": "text/html"}, b"<p>slow</p>"

    return handler


def _stream(total: int) -> Iterator[bytes]:
    chunk = b"x" * 16_384
    for _ in range(total // len(chunk) + 1):
        yield chunk


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VersionedSite]:
    root = tmp_path_factory.mktemp("site")
    (root / "ja" / "utf8").mkdir(parents=True)
    (root / "ja" / "utf8" / "1.html").write_text(
        f"<html><body><p>{JA_TEXT}</p><footer>{{{{csrf_token}}}}</footer></body></html>", encoding="utf-8"
    )
    (root / "ja" / "sjis").mkdir(parents=True)
    (root / "ja" / "sjis" / "1.sjis.html").write_bytes(SJIS_PAGE.encode("shift_jis"))
    (root / "private" / "page").mkdir(parents=True)
    (root / "private" / "page" / "1.html").write_text("<p>hidden</p>", encoding="utf-8")
    (root / "robots.txt").write_text(ROBOTS, encoding="utf-8")
    html = {"Content-Type": "text/html; charset=utf-8"}
    with VersionedSite(root=root) as s:
        s.route("/e500", _counting([(500, html, b"<h1>oops</h1>")]))
        s.route("/e404", _counting([(404, html, b"<h1>gone</h1>")]))
        s.route("/e403", _counting([(403, html, b"<h1>no</h1>")]))
        s.route("/flap", _counting([(503, html, b"busy"), (503, html, b"busy"), (200, html, b"<p>back</p>")]))
        s.route("/r429", _counting([(429, {"Retry-After": "1"}, b"slow down"), (200, html, b"<p>ok now</p>")]))
        s.route("/r429-long", _counting([(429, {"Retry-After": "3600"}, b"come back tomorrow")]))
        s.route("/r1", _counting([(302, {"Location": "/r2"}, b"")]))
        s.route("/r2", _counting([(301, {"Location": s.url("/ja/utf8/")}, b"")]))
        s.route("/loop", _counting([(302, {"Location": "/loop"}, b"")]))
        s.route("/huge", _counting([(200, html, b"x" * (MAX_BODY + 1))]))
        s.route("/huge-stream", lambda info: (200, html, _stream(MAX_BODY * 2)))
        for name in ("a", "b", "c", "d"):
            s.route(f"/pace/{name}", _slow(0.3))
        s.route("/hop", _counting([(302, {"Location": s.url("/secret")}, b"")]))
        s.route("/secret", _counting([(200, html, b"<p>internal</p>")]))
        yield s


BATCH = {
    "utf8": "/ja/utf8/",
    "sjis": "/ja/sjis/",
    "e500": "/e500",
    "e404": "/e404",
    "e403": "/e403",
    "flap": "/flap",
    "r429": "/r429",
    "r429_long": "/r429-long",
    "redirect": "/r1",
    "loop": "/loop",
    "robots": "/private/page/",
    "huge": "/huge",
    "huge_stream": "/huge-stream",
}


@dataclass(frozen=True)
class Batch:
    """The captures of the shared crawl by name, and what the site saw during that crawl alone."""

    captures: dict[str, Capture]
    hits: Counter[str]
    max_concurrency: Counter[str]

    def __getitem__(self, name: str) -> Capture:
        return self.captures[name]


@pytest.fixture(scope="module")
def batch(site: VersionedSite) -> Batch:
    """One crawl of every BATCH target (plus a duplicate URL and a malformed one)."""
    names = [*BATCH, "utf8_again", "bad_url"]
    urls = [site.url(path) for path in BATCH.values()] + [site.url("/ja/utf8/"), "not a url"]
    targets = [FetchTarget(source_id=i, url=url) for i, url in enumerate(urls, start=1)]
    site.wait_idle()
    site.reset_counters()
    captures = list(crawl(targets, settings=fast_settings()))
    assert len(captures) == len(targets)
    by_id = {c.source_id: c for c in captures}
    return Batch(
        captures={name: by_id[i] for i, name in enumerate(names, start=1)},
        hits=site.hits.copy(),
        max_concurrency=site.max_concurrency.copy(),
    )


# -- one crawl, many behaviours ---------------------------------------------------------------------


def test_utf8_page_with_headers(batch: Batch, site: VersionedSite) -> None:
    capture = batch["utf8"]
    assert capture.error_kind is None and capture.status == 200
    assert JA_TEXT.encode("utf-8") in capture.body
    assert capture.header("content-type") == "text/html; charset=utf-8"
    assert capture.header(
        "ETag",
    ) and capture.header("Last-Modified")
    assert all(isinstance(v, str) for values in capture.headers.values() for v in values)
    assert capture.final_url == capture.requested_url == site.url("/ja/utf8/")
    assert capture.redirects == []
    assert capture.fetched_at.utcoffset() == timedelta(0)
    assert capture.duration_ms >= 0


def test_shift_jis_bytes_are_kept_raw(batch: Batch) -> None:
    capture = batch["sjis"]
    assert capture.status == 200
    assert capture.body == SJIS_PAGE.encode("shift_jis")
    assert capture.header("Content-Type") == "text/html; charset=shift_jis"


def test_server_error_is_retried_with_backoff_then_delivered(batch: Batch, site: VersionedSite) -> None:
    capture = batch["e500"]
    assert capture.error_kind is None and capture.status == 500 and capture.body == b"<h1>oops</h1>"
    attempts = [r.received_at for r in site.requests_to("/e500")]
    assert len(attempts) == 3  # the first try and retry_times=2 retries
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= BACKOFF * 0.9 and gaps[1] >= 2 * BACKOFF * 0.9  # exponential
    assert capture.duration_ms >= 3 * BACKOFF * 1000 * 0.9


@pytest.mark.parametrize("name, status", [("e404", 404), ("e403", 403)])
def test_client_errors_are_not_retried(batch: Batch, site: VersionedSite, name: str, status: int) -> None:
    assert batch[name].status == status and batch[name].error_kind is None
    assert batch.hits[BATCH[name]] == 1


def test_flapping_page_succeeds_on_retry(batch: Batch, site: VersionedSite) -> None:
    assert batch["flap"].status == 200 and batch["flap"].body == b"<p>back</p>"
    assert batch.hits["/flap"] == 3


def test_retry_after_is_honoured(batch: Batch, site: VersionedSite) -> None:
    assert batch["r429"].status == 200
    first, second = (r.received_at for r in site.requests_to("/r429"))
    assert second - first >= 0.95


def test_retry_after_beyond_the_cap_is_not_waited_for(batch: Batch, site: VersionedSite) -> None:
    assert batch["r429_long"].status == 429 and batch["r429_long"].header("Retry-After") == "3600"
    assert batch.hits["/r429-long"] == 1


def test_redirect_chain_is_recorded(batch: Batch, site: VersionedSite) -> None:
    capture = batch["redirect"]
    assert capture.status == 200 and capture.requested_url == site.url("/r1")
    assert capture.final_url == site.url("/ja/utf8/")
    assert capture.redirects == [site.url("/r1"), site.url("/r2")]


def test_each_redirect_hop_names_the_page_that_sent_it(batch: Batch, site: VersionedSite) -> None:
    assert [r.header("Referer") for r in site.requests_to("/r2")] == [site.url("/r1")]
    assert [r.header("Referer") for r in site.requests_to("/r1")] == [None]  # a start request has none


def test_redirect_loop_is_too_many_redirects(batch: Batch, site: VersionedSite) -> None:
    capture = batch["loop"]
    assert capture.error_kind == "too_many_redirects" and capture.status is None
    assert batch.hits["/loop"] == 11  # the first request and REDIRECT_MAX_TIMES=10 hops
    assert "\n" not in (capture.error or "")


def test_robots_disallow(batch: Batch, site: VersionedSite) -> None:
    assert batch["robots"].error_kind == "robots"
    assert batch.hits["/private/page/"] == 0


@pytest.mark.parametrize("name", ["huge", "huge_stream"])
def test_body_over_the_limit_is_too_large(batch: Batch, name: str) -> None:
    assert batch[name].error_kind == "too_large" and batch[name].body == b""


def test_each_target_gets_its_own_capture(batch: Batch) -> None:
    assert batch["utf8_again"].status == 200
    assert batch["utf8_again"].source_id != batch["utf8"].source_id


def test_malformed_url_is_an_error_capture(batch: Batch) -> None:
    assert batch["bad_url"].error_kind == "other" and batch["bad_url"].requested_url == "not a url"


def test_honest_user_agent_for_pages_and_robots(batch: Batch, site: VersionedSite) -> None:
    agent = fast_settings().effective_user_agent
    assert agent.startswith("watcher/")
    for path in ("/ja/utf8/", "/robots.txt"):
        assert {r.header("User-Agent") for r in site.requests_to(path)} == {agent}
        # Scrapy's default headers, on the robots.txt fetch too (spiders.middlewares.RequestHeadersMiddleware)
        assert {(r.header("Accept"), r.header("Accept-Language")) for r in site.requests_to(path)} == {
            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "en")
        }
        assert all("gzip" in (r.header("Accept-Encoding") or "") for r in site.requests_to(path))
    assert batch.hits["/robots.txt"] == 1  # fetched once per site and crawl
    assert all(r.header("Cookie") is None for r in site.requests)


def test_one_request_at_a_time_per_site(batch: Batch, site: VersionedSite) -> None:
    assert batch.max_concurrency == Counter({f"127.0.0.1:{site.port}": 1})


# -- crawls of their own ----------------------------------------------------------------------------


def test_conditional_request_gets_304(batch: Batch, site: VersionedSite) -> None:
    first = batch["utf8"]
    url = site.url("/ja/utf8/")
    targets = [
        FetchTarget(source_id=1, url=url, etag=first.header("ETag")),
        FetchTarget(source_id=2, url=url, last_modified=first.header("Last-Modified")),
    ]
    before = len(site.requests_to("/ja/utf8/"))
    captures = {c.source_id: c for c in crawl(targets, settings=fast_settings())}
    assert captures[1].status == 304 and captures[1].body == b"" and captures[1].error_kind is None
    assert captures[2].status == 304
    sent = site.requests_to("/ja/utf8/")[before:]
    assert {r.header("If-None-Match") for r in sent} == {first.header("ETag"), None}
    assert {r.header("If-Modified-Since") for r in sent} == {first.header("Last-Modified"), None}


def test_timeout(site: VersionedSite) -> None:
    release = threading.Event()
    site.route("/slow", _slow(10.0, release=release))
    settings = fast_settings(download_timeout=0.5, retry_times=1, retry_backoff=0.05)
    try:
        (capture,) = crawl([FetchTarget(source_id=1, url=site.url("/slow"))], settings=settings)
    finally:
        release.set()  # let the abandoned handlers finish instead of lingering into other tests
        site.wait_idle()
    assert capture.error_kind == "timeout" and capture.status is None
    assert site.hits["/slow"] == 2  # a timeout is transient: retried once
    assert "\n" not in (capture.error or "")


def test_private_addresses_are_refused(site: VersionedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the guard on, loopback is refused whatever its spelling, and so is a redirect from a
    public host to loopback. The "public host" is reached through the local site acting as an
    HTTP proxy (Scrapy honours http_proxy), so the test needs no internet."""
    monkeypatch.setenv("http_proxy", site.url("/"))
    public = "http://93.184.216.34"
    urls = [
        site.url("/ja/utf8/"),
        site.url("/ja/utf8/", host="localhost"),
        f"http://[::1]:{site.port}/",
        f"{public}/hop",
        f"ftp://127.0.0.1:{site.port}/",
    ]
    targets = [FetchTarget(source_id=i, url=url) for i, url in enumerate(urls, start=1)]
    before = site.hits.copy()
    captures = {c.source_id: c for c in crawl(targets, settings=fast_settings(allowed_networks=()))}
    assert {i: c.error_kind for i, c in captures.items()} == dict.fromkeys(captures, "refused_address")
    assert "127.0.0.1" in (captures[1].error or "") and "localhost" in (captures[2].error or "")
    hop = captures[4]
    assert hop.redirects == [f"{public}/hop"] and hop.final_url == site.url("/secret")
    assert site.hits["/hop"] == before["/hop"] + 1  # the public hop was fetched (via the proxy) ...
    assert site.hits["/secret"] == 0  # ... its private redirect target never
    assert site.hits["/ja/utf8/"] == before["/ja/utf8/"]


def test_sites_are_paced_independently() -> None:
    """Two slow pages on each of two host names: one at a time per host, the hosts in parallel
    (which shows the server would notice concurrency). A server of its own, for clean counters."""
    with VersionedSite() as site:
        for name in ("a", "b", "c", "d"):
            site.route(f"/pace/{name}", _slow(0.3))
        _crawl_paced(site)


def _crawl_paced(site: VersionedSite) -> None:
    urls = [
        site.url("/pace/a"),
        site.url("/pace/b"),
        site.url("/pace/c", host="localhost"),
        site.url("/pace/d", host="localhost"),
    ]
    captures = list(
        crawl([FetchTarget(source_id=i, url=u) for i, u in enumerate(urls)], settings=fast_settings(autothrottle=False))
    )
    assert [c.status for c in captures] == [200] * 4
    assert site.max_concurrency[f"127.0.0.1:{site.port}"] == 1
    assert site.max_concurrency[f"localhost:{site.port}"] == 1
    assert site.max_total_concurrency == 2


def test_paced_downloader_is_scrapys_queue_step_but_for_one_line() -> None:
    """spiders.downloader overrides Scrapy's ``Downloader._process_queue`` by a copy with one line added
    (the request counted as transferring when taken). Scrapy's own, less comments and blank lines, must
    still be that copy less the line, so an upgrade that changes it is reviewed, not silently undone."""
    from scrapy.core.downloader import Downloader

    from spiders.downloader import PacedDownloader

    def statements(function: object) -> list[str]:
        source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
        lines = (line.split("#", 1)[0].rstrip() for line in source.splitlines())
        return [line for line in lines if line.strip()]

    ours = statements(PacedDownloader._process_queue)
    added = [line for line in ours if "slot.transferring.add(request)" in line]
    assert len(added) == 1
    ours.remove(added[0])
    assert ours == statements(Downloader._process_queue)


def test_scrapy_log_is_forwarded_not_printed(site: VersionedSite, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="watcher.crawl")
    (capture,) = crawl([FetchTarget(source_id=1, url=site.url("/huge"))], settings=fast_settings())
    assert capture.error_kind == "too_large"
    records = [r for r in caplog.records if r.name == "watcher.crawl"]
    assert any(r.levelno == logging.DEBUG and "Spider opened" in r.getMessage() for r in records)
    assert any(r.levelno == logging.WARNING and "max size" in r.getMessage() for r in records)
    assert not any(crawl_module.HEARTBEAT_LINE in r.getMessage() for r in records)


def test_child_killed_mid_crawl(site: VersionedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[str]:
        process: subprocess.Popen[str] = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    urls = [site.url("/ja/utf8/")] + [site.url(f"/pace/{name}") for name in "abcd"]
    results = []
    for capture in crawl(
        [FetchTarget(source_id=i, url=u) for i, u in enumerate(urls)], settings=fast_settings(autothrottle=False)
    ):
        results.append(capture)
        if len(results) == 1:
            started[0].kill()
    assert len(results) == 5
    assert results[0].status == 200
    failed = [c for c in results if c.error_kind == "crawl_failed"]
    assert failed and all("killed by signal 9" in (c.error or "") for c in failed)
    assert {c.source_id for c in results} == set(range(5))


# -- the parent's handling of a misbehaving child (no Scrapy needed) ------------------------------

FAKE_CHILD = """
import json, os, signal, sys, time
from datetime import datetime, timezone
targets = [json.loads(line) for line in sys.stdin if line.strip()]
first = targets[0]
print(json.dumps({"source_id": first["source_id"], "requested_url": first["url"],
                  "final_url": first["url"], "fetched_at": datetime.now(timezone.utc).isoformat(),
                  "duration_ms": 1, "status": 200, "body": ""}), flush=True)
print("this is not json", flush=True)
print("ERROR spiders.fake: something broke badly", file=sys.stderr, flush=True)
mode = os.environ["FAKE_MODE"]
if mode == "exit":
    sys.exit(3)
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(60)
"""


@pytest.fixture
def fake_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crawl_module, "crawl_command", lambda: [sys.executable, "-c", FAKE_CHILD])


TARGETS = [FetchTarget(source_id=i, url=f"http://example.test/{i}") for i in range(3)]


@pytest.mark.usefixtures("fake_child")
@pytest.mark.parametrize(
    "mode, reason",
    [
        ("exit", "exited with status 3: spiders.fake: something broke badly"),
        ("kill", "killed by signal 9"),
    ],
)
def test_crashed_child_yields_crawl_failed(monkeypatch: pytest.MonkeyPatch, mode: str, reason: str) -> None:
    monkeypatch.setenv("FAKE_MODE", mode)
    captures = list(crawl(TARGETS, settings=fast_settings()))
    assert [c.source_id for c in captures] == [0, 1, 2]
    assert captures[0].status == 200 and captures[0].error_kind is None
    for capture in captures[1:]:
        assert capture.error_kind == "crawl_failed" and reason in (capture.error or "")
        assert "\n" not in (capture.error or "") and capture.requested_url == TARGETS[capture.source_id].url


@pytest.mark.usefixtures("fake_child")
def test_stalled_child_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    monkeypatch.setattr(crawl_module, "STALL_SECONDS", 1.0)
    started = time.monotonic()
    captures = list(crawl(TARGETS, settings=fast_settings()))
    assert time.monotonic() - started < 10
    assert [c.error_kind for c in captures] == [None, "crawl_failed", "crawl_failed"]
    assert "stalled" in (captures[1].error or "")


@pytest.mark.usefixtures("fake_child")
def test_closing_early_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    iterator = crawl(TARGETS, settings=fast_settings())
    assert next(iterator).source_id == 0
    started = time.monotonic()
    iterator.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < crawl_module.TERMINATE_GRACE_SECONDS


def test_no_targets_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process() -> list[str]:
        raise AssertionError("no process should be started")

    monkeypatch.setattr(crawl_module, "crawl_command", no_process)
    assert list(crawl([], settings=fast_settings())) == []


FLOODING_CHILD = """
import json, os, signal, sys
from datetime import datetime, timezone
targets = [json.loads(line) for line in sys.stdin if line.strip()]
written = 0
def report(signum, frame):
    print(f"written {written}", file=sys.stderr, flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, report)
for target in targets:
    print(json.dumps({"source_id": target["source_id"], "requested_url": target["url"],
                      "final_url": target["url"], "fetched_at": datetime.now(timezone.utc).isoformat(),
                      "duration_ms": 1, "status": 200, "body": "x" * 20000}), flush=True)
    written += 1
    print(f"wrote {written}", file=sys.stderr, flush=True)
print(f"written {written}", file=sys.stderr, flush=True)
"""


def test_closing_while_the_child_floods_the_buffer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The parent buffers only a few captures (back-pressure; its memory is measured in
    benchmarks/peers.py): a child still writing 500 large captures when the parent stops after one
    takes its SIGTERM and ends cleanly, and nothing waits on the full buffer."""
    monkeypatch.setattr(crawl_module, "crawl_command", lambda: [sys.executable, "-c", FLOODING_CHILD])
    targets = [FetchTarget(source_id=i, url=f"http://example.test/{i}") for i in range(500)]
    caplog.set_level(logging.DEBUG, logger="watcher.crawl")
    iterator = crawl(targets, settings=fast_settings())
    assert next(iterator).source_id == 0
    # Wait until the child has written more than the parent buffers and the pipe holds: it is blocked.
    full = crawl_module.BUFFERED_CAPTURES + 4
    deadline = time.monotonic() + 30
    while not any(
        r.getMessage().startswith("wrote ") and int(r.getMessage().split()[1]) >= full for r in list(caplog.records)
    ):
        assert time.monotonic() < deadline, "the child never filled the buffer"
        time.sleep(0.01)
    started = time.monotonic()
    iterator.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < crawl_module.TERMINATE_GRACE_SECONDS  # no thread or child waited on
    assert any(r.getMessage().startswith("written ") for r in caplog.records)  # its own handler, not SIGKILL


def test_a_flood_of_captures_all_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crawl_module, "crawl_command", lambda: [sys.executable, "-c", FLOODING_CHILD])
    targets = [FetchTarget(source_id=i, url=f"http://example.test/{i}") for i in range(300)]
    captures = list(crawl(targets, settings=fast_settings()))
    assert [c.source_id for c in captures] == list(range(300)) and all(c.error_kind is None for c in captures)


def test_protocol_lines_are_those_of_the_dataclasses_own_dicts() -> None:
    target = FetchTarget(source_id=3, url="https://a.example/ü", etag='"x"', last_modified=None, screenshot=True)
    assert target.to_json() == json.dumps(asdict(target))
    assert FetchTarget.from_json(target.to_json()) == target
    capture = Capture(
        source_id=3,
        requested_url=target.url,
        final_url="https://a.example/final",
        fetched_at=datetime(2026, 12, 4, 19, 0, 1, 250, tzinfo=UTC),
        duration_ms=12,
        status=200,
        headers={"Content-Type": ["text/html; charset=shift_jis"], "Set-Cookie": ["a=1", "b=2"]},
        body="<p>うつ病</p>".encode("shift_jis"),
        redirects=[target.url],
        screenshot=b"\x89PNG",
    )
    expected = asdict(capture)
    expected["fetched_at"] = capture.fetched_at.isoformat()
    expected["body"] = base64.b64encode(capture.body).decode("ascii")
    expected["screenshot"] = base64.b64encode(capture.screenshot).decode("ascii")
    assert capture.to_json() == json.dumps(expected, ensure_ascii=False)
    assert Capture.from_json(capture.to_json()) == capture
    for bad_body in ("é", "abc", 12):  # not ASCII, bad padding, not text: what base64.b64decode raises too
        with pytest.raises((ValueError, TypeError)):
            Capture.from_json(json.dumps({**expected, "body": bad_body}))
