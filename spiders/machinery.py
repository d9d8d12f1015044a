"""Scrapy's scraper and downloader middleware manager, doing the same with less of their generic machinery.

``DirectScraper``: the crawl has no spider middleware (spiders.settings) and its callbacks write their
Capture and return nothing, yet Scrapy's scraper still ran each response through the spider middleware
manager (an asynchronous generator chain built around the callback's output) and then through its
parallel output processing (an asyncio queue, two tasks and an ``asyncio.wait``) to find that output
empty: about a tenth of the crawl child's Python calls per request. ``DirectScraper`` calls the callback
or errback the same way (``call_spider_async``), handles its errors the same way (``handle_spider_error``,
and the download-error log line of an errback that re-raises), and hands any output it does get to
Scrapy's own ``handle_spider_output_async``. With any spider middleware enabled it is not used.

``LeanMiddlewareManager``: Scrapy's downloader middleware manager wrapped each middleware method's result
in ``ensure_awaitable`` (a new coroutine to await for a plain None) and named the method for a warning
before every call (nine times per request); it now awaits only what is awaitable and names a method only
when it returns a Deferred, and checks each result as Scrapy's does.

Both are put in place, once the engine exists, by changing the class of Scrapy's own objects (as Scrapy's
HTTP/1.1 handler does with its parser): only over the exact Scrapy classes with the methods replaced, so a
release that renamed them leaves Scrapy's path in place (logged).
"""

from __future__ import annotations

import logging
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.core.scraper import Scraper
from scrapy.exceptions import IgnoreRequest, _InvalidOutput
from scrapy.http import Request, Response
from scrapy.utils.defer import ensure_awaitable
from scrapy.utils.log import failure_to_exc_info, logformatter_adapter
from scrapy.utils.python import global_object_name
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable

    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

# The spider middleware manager's method lists that take part in scraping a response.
SCRAPING_METHODS = ("process_spider_input", "process_spider_output", "process_spider_exception")


class DirectScraper(Scraper):
    """Scrapy's ``Scraper`` with ``_scrape`` going straight to the callback (see the module's docstring);
    only ever put in place by ``use_direct_scraper``, which checks that there is no spider middleware."""

    async def _scrape(self, result: Response | Failure, request: Request) -> None:
        if not isinstance(result, (Response, Failure)):  # Scrapy's TypeError
            await super()._scrape(result, request)
            return
        output: Iterable[Any] | AsyncIterator[Any]
        if isinstance(result, Response):
            try:
                output = await self.call_spider_async(result, request)
            except Exception:
                self.handle_spider_error(Failure(), request, result)  # type: ignore[no-untyped-call]
                return
        else:
            try:
                output = await self.call_spider_async(result, request)
            except Exception as spider_exc:
                self._errback_raised(spider_exc, result, request)
                return
        # iterate_spider_output turns a callback's None into an empty list: nothing to process.
        if isinstance(output, (list, tuple)) and not output:
            return
        await self.handle_spider_output_async(output, request, result)

    def _errback_raised(self, spider_exc: Exception, result: Failure, request: Request) -> None:
        """What Scrapy's ``_scrape`` does when the errback did not silence the download error."""
        assert self.crawler.spider is not None
        if not result.check(IgnoreRequest):  # type: ignore[no-untyped-call]
            logkws = self.logformatter.download_error(result, request, self.crawler.spider)
            logging.getLogger("scrapy.core.scraper").log(
                *logformatter_adapter(logkws),
                extra={"spider": self.crawler.spider},
                exc_info=failure_to_exc_info(result),
            )
        if spider_exc is not result.value:
            self.handle_spider_error(Failure(), request, result)  # type: ignore[no-untyped-call]


def has_spider_middleware(scraper: Scraper) -> bool:
    """Whether any spider middleware would see a response or its callback's output (True when the manager
    does not list its methods the way this module reads them)."""
    methods = getattr(scraper.spidermw, "methods", None)
    if not isinstance(methods, dict):
        return True
    return any(method is not None for name in SCRAPING_METHODS for method in methods.get(name, ()))


def use_direct_scraper(engine: ExecutionEngine) -> bool:
    """Make the engine's scraper a ``DirectScraper`` (the same object, so its state and its slot stay).

    Only when it is Scrapy's own ``Scraper`` with the ``_scrape`` step this class replaces; otherwise
    (another scraper, or a Scrapy that no longer has that step) it is left as it is, logged. True when
    in place.
    """
    scraper = getattr(engine, "scraper", None)
    if type(scraper) is DirectScraper:
        return True
    if type(scraper) is not Scraper or not callable(getattr(Scraper, "_scrape", None)):
        log.info("crawl: Scrapy's scraper left as it is (not scrapy.core.scraper.Scraper with _scrape)")
        return False
    # The middlewares are fixed once the crawler is built: with any of them, Scrapy's path throughout.
    if has_spider_middleware(scraper):
        return False
    scraper.__class__ = DirectScraper
    return True


class LeanMiddlewareManager(DownloaderMiddlewareManager):
    """Scrapy's ``DownloaderMiddlewareManager`` with ``_process_request`` and ``_process_response``
    awaiting only an awaitable result (see the module's docstring); put in place by
    ``use_lean_middleware_manager``."""

    async def _process_request(
        self, request: Request, download_func: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Response | Request:
        for method in self.methods["process_request"]:
            assert method is not None
            response = self._handle_mw_method(method, request=request)
            if response is not None and not isinstance(response, (Response, Request)):
                response = await _awaited(method, response)
            if response is not None and not isinstance(response, (Response, Request)):
                raise _InvalidOutput(
                    f"Middleware {method.__qualname__} must return None, Response or "
                    f"Request, got {response.__class__.__name__}"
                )
            if response:
                return response
        return await download_func(request)

    async def _process_response(self, response: Response | Request, request: Request) -> Response | Request:
        if response is None:
            raise TypeError("Received None in process_response")
        if isinstance(response, Request):
            return response
        for method in self.methods["process_response"]:
            assert method is not None
            response = self._handle_mw_method(method, request=request, response=response)
            if not isinstance(response, (Response, Request)):
                response = await _awaited(method, response)
            if not isinstance(response, (Response, Request)):
                raise _InvalidOutput(
                    f"Middleware {method.__qualname__} must return Response or Request, got {type(response)}"
                )
            if isinstance(response, Request):
                return response
        return response


def _awaited(method: Callable[..., Any], result: Any) -> Awaitable[Any]:
    """``ensure_awaitable(result, _warn=...)``, which Scrapy's manager awaits for every result: a
    coroutine comes back as it is, so it is given back without naming the method for a warning (the
    callers skip None, a Response and a Request, which need no awaiting at all)."""
    if isinstance(result, CoroutineType):
        return result
    return ensure_awaitable(result, _warn=global_object_name(method))


def use_lean_middleware_manager(engine: ExecutionEngine) -> bool:
    """Make the downloader's middleware manager a ``LeanMiddlewareManager`` (the same object, so its
    middlewares and their order stay), only over Scrapy's own manager with the two steps replaced."""
    manager = getattr(getattr(engine, "downloader", None), "middleware", None)
    if type(manager) is LeanMiddlewareManager:
        return True
    base = DownloaderMiddlewareManager
    if type(manager) is not base or not all(
        callable(getattr(base, name, None)) for name in ("_process_request", "_process_response", "_handle_mw_method")
    ):
        log.info("crawl: Scrapy's downloader middleware manager left as it is")
        return False
    manager.__class__ = LeanMiddlewareManager
    return True


class LeanMachinery:
    """The extension putting ``DirectScraper`` and ``LeanMiddlewareManager`` in place once the engine
    exists (when the spider opens, before its first request)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeanMachinery:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        return extension

    def spider_opened(self) -> None:
        engine = self.crawler.engine
        assert engine is not None, "the engine opens the spider"
        use_direct_scraper(engine)
        use_lean_middleware_manager(engine)
