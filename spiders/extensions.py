"""A heartbeat on stderr, so the parent can tell a slow crawl from a wedged one; the log formatter; signals
sent only when someone listens."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from pydispatch import dispatcher
from scrapy import signals
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.internet.task import LoopingCall

from watcher.crawl import HEARTBEAT_LINE

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.signalmanager import SignalManager

log = logging.getLogger(__name__)


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


class UnheardSignals:
    """Scrapy's engine, downloader and HTTP handler send six to seven signals per request (request
    scheduled, reached and left the downloader, headers and bytes received, response received and
    downloaded), most of which nothing in watcher's crawl listens to: each send still built its
    arguments, looked up four receiver lists and walked them (about 16 Python calls). With
    ``send_only_when_heard`` a signal with no receiver is not sent at all (Scrapy's answer would be
    an empty list); one with a receiver, or sent for another sender, goes through Scrapy as before."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UnheardSignals:
        send_only_when_heard(crawler.signals)
        return cls()


def send_only_when_heard(manager: SignalManager) -> bool:
    """Make ``manager.send_catch_log`` return Scrapy's answer for a signal nobody listens to, ``[]``,
    without sending it. Receivers are those of PyDispatcher's table (``dispatcher.connections``, by
    sender id, then signal), read at each send, so one connected later is heard. Without that table
    (a PyDispatcher that keeps its receivers elsewhere) every signal goes through Scrapy, logged once.
    True when installed."""
    connections = getattr(dispatcher, "connections", None)
    if not isinstance(connections, dict):
        log.info("crawl: every Scrapy signal sent (PyDispatcher has no connections table)")
        return False
    public: Callable[..., list[tuple[Any, Any]]] = manager.send_catch_log
    if getattr(public, "only_when_heard", False):
        return True
    own, anyone = id(manager.sender), id(dispatcher.Any)
    catch_all = dispatcher.Any

    def send_catch_log(signal: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
        # What pydispatch.dispatcher.getAllReceivers looks up: (sender or Any) x (signal or Any).
        if "sender" not in kwargs:
            mine, general = connections.get(own), connections.get(anyone)
            if not (
                (mine and (signal in mine or catch_all in mine))
                or (general and (signal in general or catch_all in general))
            ):
                return []
        return public(signal, **kwargs)

    send_catch_log.only_when_heard = True  # type: ignore[attr-defined]
    manager.send_catch_log = send_catch_log  # type: ignore[method-assign]
    return True
