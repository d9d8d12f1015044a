"""Hand each Capture to the parent process as one JSON line on the capture stream."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING

from watcher.capture import Capture

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CaptureWriter:
    """Writes and flushes each Capture at once, so the parent can record it while the crawl goes on.

    The spider calls it directly rather than yielding the Capture as a Scrapy item: the item machinery
    (an asyncio task, the item_scraped signal, the log formatter, the pipeline manager's chain) cost
    over 100 Python calls per capture for a single write. The stream is a file descriptor
    (``WATCHER_CAPTURE_FD``), not sys.stdout: ``spiders.__main__`` points stdout at stderr so that
    nothing but captures can ever reach the parent's reader.
    """

    def __init__(self, fd: int) -> None:
        self._stream: IO[str] = os.fdopen(fd, "w", encoding="utf-8", closefd=False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureWriter:
        return cls(crawler.settings.getint("WATCHER_CAPTURE_FD"))

    def write(self, capture: Capture) -> None:
        self._stream.write(capture.to_json() + "\n")
        self._stream.flush()
