"""A heartbeat on stderr, so the parent can tell a slow crawl from a wedged one; the log formatter."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.internet.task import LoopingCall

from watcher.crawl import HEARTBEAT_LINE

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class Heartbeat:
    """Every few seconds, from the reactor thread: if the reactor is blocked, the beat stops."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._loop = LoopingCall(self._beat)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Heartbeat:
        extension = cls(crawler.settings.getfloat("WATCHER_HEARTBEAT_SECONDS"))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self._loop.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self._loop.running:
            self._loop.stop()

    @staticmethod
    def _beat() -> None:
        sys.stderr.write(HEARTBEAT_LINE + "\n")
        sys.stderr.flush()


class QuietLogFormatter(LogFormatter):
    """Scrapy's log formatter, except that the "Crawled" line of every response (debug level) is not
    made at all below debug logging: Scrapy leaves the root logger at NOTSET and filters in its
    handler, so each response built the record only for the handler to drop it. (The spider yields no
    items, so there are no "Scraped" lines.)"""

    def __init__(self, *, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(debug=crawler.settings.get("LOG_LEVEL") == "DEBUG")  # a level name (watcher.config)

    # Scrapy's documented way to leave an action unlogged is to return None (its annotation says otherwise).
    def crawled(self, request: Request, response: Response, spider: Spider) -> LogFormatterResult | None:  # type: ignore[override]
        return super().crawled(request, response, spider) if self.debug else None
