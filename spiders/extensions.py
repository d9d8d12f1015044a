"""A heartbeat on stderr, so the parent can tell a slow crawl from a wedged one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy import signals
from twisted.internet.task import LoopingCall

from watcher.crawl import HEARTBEAT_LINE

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


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
