"""The spider's parts in-process: settings, error classification, retry policy, guard, captures."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest
from OpenSSL import SSL
from pydispatch import dispatcher
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.settings.default_settings import DEFAULT_REQUEST_HEADERS
from scrapy.signalmanager import SignalManager
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx_error
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed
from twisted.web.http_headers import Headers as TxHeaders
from twisted.web.iweb import UNKNOWN_LENGTH

from spiders.clinic_pages import START_META, ClinicPagesSpider
from spiders.extensions import send_only_when_heard
from spiders.handlers import STARTED_META, copy_headers, install_fast_paths, response_headers
from spiders.items import TARGET_META, capture_from_failure, capture_from_response, classify
from spiders.middlewares import (
    BACKOFF_META,
    AddressGuardMiddleware,
    BackoffRetryMiddleware,
    RefererRedirectMiddleware,
    RefusedRequest,
    RequestHeadersMiddleware,
    RobotsDisallowed,
)
from spiders.settings import MIN_AUTOTHROTTLE_START_DELAY, robots_token, scrapy_settings
from watcher.capture import FetchTarget
from watcher.config import Settings
from watcher.httpdates import parse_http_date, retry_after_seconds
from watcher.netguard import ALL_NETWORKS, LOOPBACK_NETWORKS

TARGET = FetchTarget(source_id=7, url="https://clinic.example/page")


# -- settings ---------------------------------------------------------------------------------------


def test_settings_are_polite_and_follow_watcher_settings() -> None:
    settings = Settings(
        download_delay=3.0,
        download_timeout=12.0,
        max_body_bytes=1234,
        retry_times=4,
        obey_robots=True,
        autothrottle=True,
        log_level="WARNING",
        contact="a@b.example",
    )
    flat = scrapy_settings(settings, capture_fd=9)
    assert flat["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert flat["DOWNLOAD_DELAY"] == 3.0 and flat["AUTOTHROTTLE_START_DELAY"] == 3.0
    assert flat["DOWNLOAD_TIMEOUT"] == 12.0 and flat["DOWNLOAD_MAXSIZE"] == 1234
    assert flat["RETRY_TIMES"] == 4 and 404 not in flat["RETRY_HTTP_CODES"]
    assert flat["ROBOTSTXT_OBEY"] is True and flat["HTTPERROR_ALLOW_ALL"] is True
    assert flat["USER_AGENT"] == settings.effective_user_agent and "a@b.example" in flat["USER_AGENT"]
    assert flat["ROBOTSTXT_USER_AGENT"] == "watcher"
    assert flat["LOG_LEVEL"] == "WARNING" and flat["WATCHER_CAPTURE_FD"] == 9
    assert flat["COOKIES_ENABLED"] is False and flat["HTTPCACHE_ENABLED"] is False
    assert flat["TELNETCONSOLE_ENABLED"] is False and flat["REMOTE_CONTROL_ENABLED"] is False
    assert flat["REDIRECT_MAX_TIMES"] == 10 and flat["METAREFRESH_ENABLED"] is False
    # Nothing counts per request for nobody: no stats, no extension but AutoThrottle and the heartbeat.
    assert flat["STATS_CLASS"] == "scrapy.statscollectors.DummyStatsCollector"
    assert list(flat["EXTENSIONS_BASE"]) == ["scrapy.extensions.throttle.AutoThrottle"]


def test_no_delay_is_none_with_one_request_per_site_and_a_small_autothrottle_start() -> None:
    """No delay is passed on as none: one request per site at a time is the downloader's to keep
    (spiders.downloader.PacedDownloader counts a request as it leaves the queue), not a tiny delay's."""
    flat = scrapy_settings(Settings(download_delay=0.0, autothrottle=True), capture_fd=1)
    assert flat["DOWNLOAD_DELAY"] == 0.0
    assert flat["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert flat["DOWNLOADER"] == "spiders.downloader.PacedDownloader"
    assert flat["AUTOTHROTTLE_START_DELAY"] == MIN_AUTOTHROTTLE_START_DELAY <= 0.5


@pytest.mark.parametrize(
    "agent, token",
    [
        ("watcher/0.1.0 (medical-claim change monitor)", "watcher"),
        ("MyBot/2.0", "MyBot"),
        ("plain agent", "plain"),
        ("", "watcher"),
    ],
)
def test_robots_token(agent: str, token: str) -> None:
    assert robots_token(agent) == token


# -- error classification ---------------------------------------------------------------------------


def _wrapped(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    "error, kind",
    [
        (DownloadTimeoutError("Getting x took longer than 1.0 seconds."), "timeout"),
        (tx_error.TimeoutError(), "timeout"),
        (CannotResolveHostError("DNS lookup failed"), "dns"),
        (_wrapped(CannotResolveHostError("x"), tx_error.DNSLookupError("x")), "dns"),
        (DownloadConnectionRefusedError("refused"), "connection"),
        (tx_error.ConnectionLost(), "connection"),
        (RefusedRequest("refused 127.0.0.1: loopback address"), "refused_address"),
        (RobotsDisallowed("Forbidden by robots.txt"), "robots"),
        (DownloadCancelledError("Expected to receive 2000 bytes which is larger than download max size"), "too_large"),
        (DownloadCancelledError(), "too_large"),
        (
            IgnoreRequest("Ignored response because its body exceeded DOWNLOAD_MAXSIZE (10 B) during decompression."),
            "too_large",
        ),
        (IgnoreRequest("max redirections reached"), "too_many_redirects"),
        (ResponseFailed([Failure(SSL.Error([("SSL routines", "", "wrong version number")]))]), "tls"),
        (
            _wrapped(
                DownloadFailedError("boom"),
                ResponseFailed([Failure(SSL.Error([("SSL routines", "", "handshake failure")]))]),
            ),
            "tls",
        ),
        (
            ResponseFailed(
                [Failure(SSL.Error([("SSL routines", "", "bad certificate")])), Failure(tx_error.ConnectionLost())]
            ),
            "tls",
        ),
        (ValueError("something\nelse"), "other"),
    ],
)
def test_classify(error: BaseException, kind: str) -> None:
    got, message = classify(error)
    assert got == kind and "\n" not in message and message


def test_other_errors_name_their_type() -> None:
    assert classify(ValueError("bad"))[1] == "ValueError: bad"


def test_exhausted_redirects_are_recognised_without_the_message() -> None:
    request = Request("https://a.example/", meta={"redirect_times": 10, "redirect_ttl": 0})
    assert classify(IgnoreRequest("whatever"), request=request)[0] == "too_many_redirects"
    assert classify(IgnoreRequest("whatever"), request=Request("https://a.example/"))[0] == "other"


# -- retry policy -----------------------------------------------------------------------------------


@pytest.fixture
def crawler() -> Crawler:
    crawler = get_crawler(
        ClinicPagesSpider,
        {
            "RETRY_TIMES": 2,
            "WATCHER_RETRY_BACKOFF": 0.5,
            "WATCHER_RETRY_AFTER_CAP": 60,
            "RETRY_HTTP_CODES": [408, 429, 500, 502, 503, 504],
        },
    )
    crawler.spider = crawler._create_spider()
    return crawler


def _response(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(request.url, status=status, headers=headers or {}, request=request)


def test_retries_back_off_exponentially(crawler: Crawler) -> None:
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("https://a.example/")
    first = middleware.process_response(request, _response(request, 503))
    assert isinstance(first, Request) and first.meta[BACKOFF_META] == 0.5
    second = middleware.process_response(first, _response(first, 500))
    assert isinstance(second, Request) and second.meta[BACKOFF_META] == 1.0
    given_up = middleware.process_response(second, _response(second, 500))
    assert isinstance(given_up, Response) and given_up.status == 500


@pytest.mark.parametrize("status", [404, 403, 410, 401, 200, 304])
def test_no_retry_for_final_answers(crawler: Crawler, status: int) -> None:
    request = Request("https://a.example/")
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    result = middleware.process_response(request, _response(request, status))
    assert isinstance(result, Response) and result.status == status


def test_retry_after_within_the_cap_is_waited_for(crawler: Crawler) -> None:
    request = Request("https://a.example/")
    retry = BackoffRetryMiddleware.from_crawler(crawler).process_response(
        request, _response(request, 429, {"Retry-After": "7"})
    )
    assert isinstance(retry, Request) and retry.meta[BACKOFF_META] == 7.0


def test_retry_after_beyond_the_cap_is_not_retried(crawler: Crawler) -> None:
    request = Request("https://a.example/")
    result = BackoffRetryMiddleware.from_crawler(crawler).process_response(
        request, _response(request, 503, {"Retry-After": "3600"})
    )
    assert isinstance(result, Response) and result.status == 503


def test_network_errors_are_retried_but_refusals_are_not(crawler: Crawler) -> None:
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("https://a.example/")
    retry = middleware.process_exception(request, DownloadTimeoutError("slow"))
    assert isinstance(retry, Request) and retry.meta[BACKOFF_META] == 0.5
    assert middleware.process_exception(request, RefusedRequest("no")) is None
    assert middleware.process_exception(request, RobotsDisallowed("no")) is None


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(" 5 ") == 5.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(later) or 0) <= 31
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert retry_after_seconds(past) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    moment = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert retry_after_seconds("Tue, 05 Mar 2024 09:30:40 GMT", now=moment) == 40.0


def test_http_dates_are_aware_utc_or_none() -> None:
    assert parse_http_date(b"Tue, 05 Mar 2024 09:30:00 GMT") == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert parse_http_date("Tue, 05 Mar 2024 18:30:00 +0900") == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert parse_http_date("Tue, 05 Mar 2024 09:30:00 -0000") == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert parse_http_date(None) is None and parse_http_date("") is None and parse_http_date("yesterday") is None


# -- the address guard (literal addresses: no resolver, no reactor needed) ------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]:8080/",
        "http://10.0.0.8/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:7f00:1]/",
    ],
)
def test_guard_refuses_private_literals(url: str) -> None:
    guard = AddressGuardMiddleware()
    with pytest.raises(RefusedRequest, match="refused"):
        asyncio.run(guard.process_request(Request(url)))


def test_guard_passes_public_literals_and_private_when_allowed() -> None:
    asyncio.run(AddressGuardMiddleware().process_request(Request("http://8.8.8.8/")))
    asyncio.run(AddressGuardMiddleware(allowed=LOOPBACK_NETWORKS).process_request(Request("http://127.0.0.1/")))
    asyncio.run(AddressGuardMiddleware(allowed=ALL_NETWORKS).process_request(Request("http://10.0.0.8/")))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0/",
        "http://[fd00:ec2::254]/",
    ],
)
def test_guard_never_passes_link_local_or_metadata_addresses(url: str) -> None:
    for allowed in (LOOPBACK_NETWORKS, ALL_NETWORKS):
        with pytest.raises(RefusedRequest, match="refused"):
            asyncio.run(AddressGuardMiddleware(allowed=allowed).process_request(Request(url)))


def test_guard_refuses_private_networks_not_named() -> None:
    with pytest.raises(RefusedRequest, match="private"):
        asyncio.run(AddressGuardMiddleware(allowed=LOOPBACK_NETWORKS).process_request(Request("http://10.0.0.8/")))


def test_guard_refuses_other_schemes_even_when_private_is_allowed() -> None:
    with pytest.raises(RefusedRequest, match="scheme"):
        asyncio.run(AddressGuardMiddleware(allowed=ALL_NETWORKS).process_request(Request("file:///etc/passwd")))


def test_guard_keeps_refusing_a_host_it_has_seen_and_starts_afresh_when_full() -> None:
    guard = AddressGuardMiddleware(allowed=LOOPBACK_NETWORKS, limit=2)
    for _ in range(3):  # the parsed address is reused; the verdict stays the same
        asyncio.run(guard.process_request(Request("http://127.0.0.1/")))
        with pytest.raises(RefusedRequest, match="private"):
            asyncio.run(guard.process_request(Request("http://10.0.0.8/")))
    with pytest.raises(RefusedRequest, match="private"):
        asyncio.run(guard.process_request(Request("http://192.168.1.1/")))  # a third host: the cache starts afresh
    asyncio.run(guard.process_request(Request("http://127.0.0.1/")))


# -- request headers, and Scrapy's work done once ---------------------------------------------------


def test_request_headers_are_scrapys_defaults_and_the_user_agent_never_replacing_a_request_s_own() -> None:
    crawler = get_crawler(ClinicPagesSpider, scrapy_settings(Settings(contact="a@b.example"), capture_fd=1))
    middleware = RequestHeadersMiddleware.from_crawler(crawler)
    request = Request("https://clinic.example/", headers={"Accept-Language": "ja", "If-None-Match": '"v1"'})
    middleware.process_request(request)
    assert request.headers.getlist("Accept-Language") == [b"ja"] and request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"Accept"] == DEFAULT_REQUEST_HEADERS["Accept"].encode()
    assert request.headers[b"User-Agent"] == Settings(contact="a@b.example").effective_user_agent.encode()
    other = Request("https://clinic.example/robots.txt")
    middleware.process_request(other)
    other.headers.appendlist("Accept", "text/plain")  # each request has lists of its own
    assert list(other.headers) == [b"Accept", b"Accept-Language", b"User-Agent"]
    assert request.headers.getlist("Accept") == [DEFAULT_REQUEST_HEADERS["Accept"].encode()]


def test_the_proxy_middleware_runs_only_when_the_environment_names_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert scrapy_settings(Settings(), capture_fd=1)["HTTPPROXY_ENABLED"] is False
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert scrapy_settings(Settings(), capture_fd=1)["HTTPPROXY_ENABLED"] is True


def test_response_headers_are_those_scrapy_builds() -> None:
    raw = TxHeaders({b"content-type": [b"text/html"], b"set-cookie": [b"a=1", b"b=2"], b"x-odd": [b"caf\xe9"]})
    for length in (UNKNOWN_LENGTH, 42):
        response = SimpleNamespace(length=length, headers=raw)
        expected = Headers()  # Scrapy's way, as in _ScrapyAgent._headers_from_twisted_response
        if length != UNKNOWN_LENGTH:
            expected[b"Content-Length"] = str(length).encode()
        expected.update(raw.getAllRawHeaders())
        built = response_headers(response)  # type: ignore[arg-type]
        assert type(built) is Headers and list(dict.items(built)) == list(dict.items(expected))
        assert built.getlist("set-cookie") == [b"a=1", b"b=2"] and built[b"Content-Type"] == b"text/html"


def test_request_headers_are_copied_as_twisted_copies_them() -> None:
    install_fast_paths()
    assert TxHeaders.copy is copy_headers  # what Twisted's Agent calls to add the Host header
    original = TxHeaders(
        {
            "content-type": ["text/html"],
            b"if-none-match": [b'"a\r\nb"'],  # linear whitespace, sanitised when set
            "x-multi": ["caf\u00e9", b"two"],
        }
    )
    original.addRawHeader(b"accept", b"*/*")
    copy = original.copy()
    twisteds_way = TxHeaders(dict(original.getAllRawHeaders()))  # Twisted's own copy: its constructor
    assert type(copy) is TxHeaders and list(copy.getAllRawHeaders()) == list(twisteds_way.getAllRawHeaders())
    assert copy == twisteds_way == original and copy.getRawHeaders(b"if-none-match") == [b'"a b"']
    copy.addRawHeader(b"host", b"a.example")
    copy.addRawHeader(b"accept", b"text/html")
    assert not original.hasHeader(b"host") and original.getRawHeaders(b"accept") == [b"*/*"]  # lists of its own


def test_host_name_conversions_are_cached_and_still_refuse_bad_names() -> None:
    from twisted.internet import endpoints

    install_fast_paths()
    install_fast_paths()  # a second handler changes nothing
    to_bytes, to_text = endpoints._idnaBytes, endpoints._idnaText
    for _ in range(2):
        assert to_bytes("bücher.example") == b"xn--bcher-kva.example"
        assert to_bytes("under_score.example") == b"under_score.example"  # Scrapy's fallback, kept
        assert to_text(b"xn--bcher-kva.example") == "bücher.example"
        with pytest.raises(UnicodeError):
            to_bytes("bad host:name")
    assert to_bytes.cache_info().hits >= 2  # type: ignore[attr-defined]


def test_unheard_signals_answer_as_scrapy_does_and_heard_ones_are_sent() -> None:
    crawler = get_crawler(ClinicPagesSpider)
    manager, scrapys = crawler.signals, SignalManager(crawler)  # Scrapy's own path, the same sender
    assert send_only_when_heard(manager) and send_only_when_heard(manager)  # a second call changes nothing
    heard, unheard = object(), object()
    received: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> str:
        received.append(kwargs)
        return "answer"

    def both(signal: object, **kwargs: object) -> list[tuple[object, object]]:
        ours = manager.send_catch_log(signal, **kwargs)
        assert ours == scrapys.send_catch_log(signal, **kwargs)
        return ours

    assert both(unheard, request="r") == [] and received == []
    manager.connect(receiver, signal=heard)  # connected after the fast path: heard
    assert both(heard, request="r") == [(receiver, "answer")] and received[-1]["request"] == "r"
    manager.connect(receiver, signal=dispatcher.Any)  # every signal of this sender
    assert both(unheard) == [(receiver, "answer")]
    manager.disconnect(receiver, signal=dispatcher.Any)
    dispatcher.connect(receiver, signal=unheard, sender=dispatcher.Any)  # this signal from any sender
    try:
        assert both(unheard) == [(receiver, "answer")]
    finally:
        dispatcher.disconnect(receiver, signal=unheard, sender=dispatcher.Any)
    assert both(unheard) == [] and both(heard, sender=dispatcher.Anonymous) == []  # another sender: Scrapy's path
    manager.disconnect(receiver, signal=heard)
    assert both(heard) == []


def test_signals_go_through_scrapy_without_pydispatchers_table(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = get_crawler(ClinicPagesSpider)
    monkeypatch.delattr(dispatcher, "connections")
    with caplog.at_level("INFO", logger="spiders.extensions"):
        assert not send_only_when_heard(crawler.signals)
    assert "every Scrapy signal sent" in caplog.text
    assert crawler.signals.send_catch_log.__func__ is SignalManager.send_catch_log  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("settings", "page", "location", "referer"),
    [
        ({}, "https://a.example/r1?q=1", "/r2", "https://a.example/r1?q=1"),
        ({}, "https://a.example/r1", "http://b.example/", None),  # https -> http: none, by default policy
        ({"REFERRER_POLICY": "origin"}, "https://a.example/r1", "https://b.example/", "https://a.example/"),
        ({"REFERRER_POLICY": "no-referrer"}, "https://a.example/r1", "/r2", None),
        ({"REFERER_ENABLED": False}, "https://a.example/r1", "/r2", None),
    ],
)
def test_each_redirect_hop_gets_the_referer_scrapys_referer_middleware_gives(
    settings: dict[str, object], page: str, location: str, referer: str | None
) -> None:
    crawler = get_crawler(ClinicPagesSpider, settings)
    middleware = RefererRedirectMiddleware.from_crawler(crawler)
    request = Request(page, headers={"Referer": "https://stale.example/"})
    hop = middleware.process_response(request, _response(request, 302, {"Location": location}))
    assert isinstance(hop, Request) and hop.meta["redirect_urls"] == [page]
    assert hop.headers.get("Referer") == (None if referer is None else referer.encode())


# -- captures ---------------------------------------------------------------------------------------


def test_request_carries_conditional_headers() -> None:
    spider = ClinicPagesSpider(targets=[])
    request = spider.request_for(
        FetchTarget(source_id=1, url="https://a.example/", etag='"abc"', last_modified="Tue, 02 Jan 2024 00:00:00 GMT")
    )
    assert request.headers[b"If-None-Match"] == b'"abc"'
    assert request.headers[b"If-Modified-Since"] == b"Tue, 02 Jan 2024 00:00:00 GMT"
    assert request.dont_filter and request.meta[TARGET_META].source_id == 1
    assert request.meta[START_META] is True  # FIFO start queues, as StartSpiderMiddleware had it
    plain = spider.request_for(TARGET)
    assert b"If-None-Match" not in plain.headers and b"If-Modified-Since" not in plain.headers


def test_capture_from_response_keeps_raw_bytes_and_all_headers() -> None:
    body = "<p>うつ病</p>".encode("shift_jis")
    request = Request(
        "https://clinic.example/final",
        meta={
            TARGET_META: TARGET,
            STARTED_META: time.monotonic() - 0.25,
            "redirect_urls": ["https://clinic.example/page"],
        },
    )
    response = HtmlResponse(
        "https://clinic.example/final",
        status=200,
        body=body,
        request=request,
        headers=[
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Content-Type", "text/html; charset=shift_jis"),
            ("X-Odd", b"caf\xe9"),
        ],
    )
    capture = capture_from_response(response)
    assert capture.body == body and capture.status == 200
    assert capture.requested_url == TARGET.url and capture.final_url == "https://clinic.example/final"
    assert capture.redirects == ["https://clinic.example/page"]
    assert capture.headers["Set-Cookie"] == ["a=1", "b=2"] and capture.header("x-odd") == "café"
    assert 240 <= capture.duration_ms < 5000 and capture.fetched_at.tzinfo is UTC
    assert capture.source_id == 7 and capture.error_kind is None


def test_capture_from_failure() -> None:
    request = Request("https://clinic.example/page", meta={TARGET_META: TARGET})
    capture = capture_from_failure(DownloadCancelledError(), request, max_body_bytes=100)
    assert capture.error_kind == "too_large" and capture.error == "response body larger than 100 bytes"
    assert capture.status is None and capture.body == b"" and capture.duration_ms == 0
