"""Hand each Capture to the parent process as one JSON line on the capture stream."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from watcher.capture import Capture

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CaptureWriterPipeline:
    """Writes and flushes each Capture at once, so the parent can record it while the crawl goes on.

    The stream is a file descriptor (``WATCHER_CAPTURE_FD``), not sys.stdout: ``spiders.__main__``
    points stdout at stderr so that nothing but captures can ever reach the parent's reader.
    """

    def __init__(self, fd: int) -> None:
        self._stream: IO[str] = os.fdopen(fd, "w", encoding="utf-8", closefd=False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureWriterPipeline:
        return cls(crawler.settings.getint("WATCHER_CAPTURE_FD"))

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Capture):
            self._stream.write(item.to_json() + "\n")
            self._stream.flush()
        return item

    def close_spider(self) -> None:
        self._stream.flush()
