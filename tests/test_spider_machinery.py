"""The crawl child's leaner Scrapy machinery (spiders.machinery, spiders.handlers' header paths) against
Scrapy's own: the same results, and Scrapy's path wherever the conditions for the lean one do not hold."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.core.scraper import Scraper
from scrapy.exceptions import _InvalidOutput
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.utils.test import get_crawler

from spiders.clinic_pages import ClinicPagesSpider
from spiders.handlers import SCRAPY_HEADERS_METHODS, install_header_paths
from spiders.machinery import (
    DirectScraper,
    LeanMiddlewareManager,
    has_spider_middleware,
    use_direct_scraper,
    use_lean_middleware_manager,
)
from spiders.settings import scrapy_settings
from watcher.config import Settings

# -- Scrapy's Headers -------------------------------------------------------------------------------

NAMES: list[Any] = ["content-type", b"content-type", "X-MULTI-word", b"etag", "caf\u00e9-name", b"", "", "a_b"]


def scrapys(name: str) -> Any:
    method = SCRAPY_HEADERS_METHODS[name]
    assert method is not None
    return method


def test_header_names_are_normalised_as_scrapy_normalises_them() -> None:
    assert install_header_paths() and install_header_paths()  # a second call changes nothing
    headers = Headers(encoding="latin-1")
    for name in NAMES:
        assert Headers.normkey(headers, name) == scrapys("normkey")(headers, name)
    for odd in (7, None, 1.5):  # no title(): the same AttributeError either way
        with pytest.raises(AttributeError):
            scrapys("normkey")(headers, odd)
        with pytest.raises(AttributeError):
            Headers.normkey(headers, odd)  # type: ignore[arg-type]


def test_headers_copy_and_list_as_scrapys_do() -> None:
    install_header_paths()
    source: list[tuple[Any, Any]] = [
        ("content-type", "text/html"),
        (b"SET-COOKIE", [b"a=1", "b=2"]),
        ("x-count", 3),
        ("x-none", None),
        ("Etag", b'"abc"'),
    ]
    ours = Headers(source)
    theirs = Headers()
    scrapys("update")(theirs, source)  # Scrapy's update from a list, as the constructor does
    assert list(dict.items(ours)) == list(dict.items(theirs))
    assert list(ours.items()) == list(scrapys("items")(theirs))
    for copied_from in (ours, HtmlResponse("http://a.example/", headers=ours).headers):
        ours_copy, scrapys_copy = Headers(), Headers()
        ours_copy.update(copied_from)
        scrapys("update")(scrapys_copy, copied_from)
        assert list(dict.items(ours_copy)) == list(dict.items(scrapys_copy))
        ours_copy.appendlist("Set-Cookie", b"c=3")  # lists of its own, not the source's
        assert copied_from.getlist("set-cookie") == [b"a=1", b"b=2"]
    response = Response("http://a.example/", headers=ours)
    assert response.headers is not ours and list(dict.items(response.headers)) == list(dict.items(ours))
    assert response.headers.to_unicode_dict() == {
        "Content-Type": "text/html",
        "Set-Cookie": "a=1,b=2",
        "X-Count": "3",
        "X-None": "",
        "Etag": '"abc"',
    }


# -- the scraper ------------------------------------------------------------------------------------


def crawl_settings() -> dict[str, Any]:
    """The crawl's settings that the scraper reads (the spider middlewares: none). Not all of them: a crawler
    built on those in a test process imports Twisted's default reactor, which later tests do not expect."""
    crawl = scrapy_settings(Settings(), capture_fd=1)
    return {
        name: crawl[name] for name in ("SPIDER_MIDDLEWARES_BASE", "WARN_ON_GENERATOR_RETURN_VALUE", "CONCURRENT_ITEMS")
    }


def crawl_scraper(spider_middlewares: dict[str, int] | None = None) -> Scraper:
    settings = crawl_settings()
    if spider_middlewares is not None:
        settings["SPIDER_MIDDLEWARES_BASE"] = spider_middlewares
    crawler = get_crawler(ClinicPagesSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider()
    return Scraper(crawler)


def test_the_crawl_s_scraper_goes_direct_only_without_spider_middleware() -> None:
    scraper = crawl_scraper()
    assert not has_spider_middleware(scraper)
    assert use_direct_scraper(SimpleNamespace(scraper=scraper)) and type(scraper) is DirectScraper  # type: ignore[arg-type]
    assert use_direct_scraper(SimpleNamespace(scraper=scraper))  # type: ignore[arg-type]  # already
    with_middleware = crawl_scraper({"scrapy.spidermiddlewares.depth.DepthMiddleware": 900})
    assert has_spider_middleware(with_middleware)
    assert not use_direct_scraper(SimpleNamespace(scraper=with_middleware))  # type: ignore[arg-type]
    assert type(with_middleware) is Scraper
    # Scrapy's _scrape is the step replaced: without it (a release that renamed it) nothing changes.
    assert callable(getattr(Scraper, "_scrape", None))


class Calls(Spider):
    name = "calls"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[str] = []

    def parse(self, response: Response, **kwargs: Any) -> None:
        self.seen.append(f"parse {response.url}")

    def broken(self, response: Response) -> None:
        raise ValueError("callback failed")

    def yields(self, response: Response) -> list[object]:
        return [{"item": 1}]


def direct_scraper_for() -> tuple[Calls, DirectScraper, list[tuple[str, Any]]]:
    crawler = get_crawler(Calls, settings_dict=crawl_settings())
    spider = crawler.spider = crawler._create_spider()
    assert isinstance(spider, Calls)
    scraper = Scraper(crawler)
    assert use_direct_scraper(SimpleNamespace(scraper=scraper))  # type: ignore[arg-type]
    assert isinstance(scraper, DirectScraper)
    events: list[tuple[str, Any]] = []
    scraper.handle_spider_error = lambda failure, request, response: events.append(("error", failure.value))  # type: ignore[method-assign,assignment]

    async def handled(output: Any, request: Request, response: Any) -> None:
        events.append(("output", list(output)))

    scraper.handle_spider_output_async = handled  # type: ignore[method-assign,assignment]
    return spider, scraper, events


def test_direct_scraper_calls_back_and_reports_as_scrapy_does() -> None:
    spider, scraper, events = direct_scraper_for()

    async def scrape(callback: Any) -> None:
        request = Request("http://a.example/", callback=callback)
        await scraper._scrape(HtmlResponse("http://a.example/", request=request), request)

    asyncio.run(scrape(spider.parse))
    assert spider.seen == ["parse http://a.example/"] and events == []  # nothing to process, no error
    asyncio.run(scrape(spider.broken))
    assert [(kind, str(value)) for kind, value in events] == [("error", "callback failed")]
    events.clear()
    asyncio.run(scrape(spider.yields))
    assert events == [("output", [{"item": 1}])]  # output still goes to Scrapy's processing
    with pytest.raises(TypeError):
        asyncio.run(scraper._scrape("not a response", Request("http://a.example/")))  # type: ignore[arg-type]


# -- the downloader middleware manager --------------------------------------------------------------


class SyncNone:
    def process_request(self, request: Request) -> None:
        request.meta.setdefault("order", []).append("sync")

    def process_response(self, request: Request, response: Response) -> Response:
        request.meta.setdefault("back", []).append("sync")
        return response


class AsyncNone:
    async def process_request(self, request: Request) -> None:
        await asyncio.sleep(0)
        request.meta.setdefault("order", []).append("async")

    async def process_response(self, request: Request, response: Response) -> Response:
        request.meta.setdefault("back", []).append("async")
        return response.replace(status=203)


class Answers:
    def process_request(self, request: Request) -> Response | None:
        return Response(request.url, status=299) if request.meta.get("answer") else None


class Wrong:
    def process_request(self, request: Request) -> object:
        return "not a response"


def run_managers(middlewares: list[object], request_meta: dict[str, Any]) -> list[Any]:
    crawler = get_crawler(Spider, settings_dict={"DOWNLOADER_MIDDLEWARES_BASE": {}})
    results: list[Any] = []
    for lean in (False, True):
        manager = DownloaderMiddlewareManager(*middlewares, crawler=crawler)
        if lean:
            assert use_lean_middleware_manager(SimpleNamespace(downloader=SimpleNamespace(middleware=manager)))  # type: ignore[arg-type]
            assert type(manager) is LeanMiddlewareManager
        request = Request("http://a.example/", meta=dict(request_meta))

        async def download(request: Request) -> Response:
            request.meta.setdefault("order", []).append("download")
            return Response(request.url, status=200)

        try:
            response = asyncio.run(manager.download_async(download, request))
            assert isinstance(response, Response)
            results.append((response.status, request.meta.get("order"), request.meta.get("back")))
        except _InvalidOutput as error:
            results.append(("invalid", str(error)))
    return results


@pytest.mark.parametrize(
    "middlewares, meta",
    [
        ([SyncNone(), AsyncNone()], {}),
        ([AsyncNone(), SyncNone()], {}),
        ([SyncNone(), Answers(), AsyncNone()], {"answer": True}),
        ([SyncNone(), Answers(), AsyncNone()], {}),
        ([SyncNone(), Wrong()], {}),
    ],
)
def test_lean_middleware_manager_answers_as_scrapys(middlewares: list[object], meta: dict[str, Any]) -> None:
    scrapys_result, lean_result = run_managers(middlewares, meta)
    assert lean_result == scrapys_result


def test_only_scrapys_own_middleware_manager_is_made_lean(caplog: pytest.LogCaptureFixture) -> None:
    class Other(DownloaderMiddlewareManager):
        pass

    crawler = get_crawler(Spider, settings_dict={"DOWNLOADER_MIDDLEWARES_BASE": {}})
    other = Other(crawler=crawler)
    with caplog.at_level(logging.INFO, logger="spiders.machinery"):
        assert not use_lean_middleware_manager(SimpleNamespace(downloader=SimpleNamespace(middleware=other)))  # type: ignore[arg-type]
    assert type(other) is Other and "left as it is" in caplog.text
    for name in ("_process_request", "_process_response", "_handle_mw_method"):  # the steps it relies on
        assert callable(getattr(DownloaderMiddlewareManager, name, None))
