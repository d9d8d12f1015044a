"""The one spider: fetch each target once (with conditional headers) and write one Capture for it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Self, TextIO

import scrapy
from twisted.python.failure import Failure

from spiders.items import (
    RENDER_META,
    TARGET_META,
    capture_for_bad_target,
    capture_from_failure,
    capture_from_response,
)
from spiders.pipelines import CaptureWriter
from watcher.capture import Capture, FetchTarget

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response


log = logging.getLogger(__name__)

# Scrapy's StartSpiderMiddleware would set this on each request the spider starts with (it is off:
# spiders.settings); the scheduler keeps such requests in its FIFO start queues, in the order given.
START_META = "is_start_request"


class ClinicPagesSpider(scrapy.Spider):
    name = "clinic_pages"

    def __init__(self, targets: Sequence[FetchTarget] = (), feed: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = list(targets)
        self.feed = feed  # --serve: more targets, one JSON line each, until the stream ends
        self.writer: CaptureWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.writer = CaptureWriter.from_crawler(crawler)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for target in self.targets:
            if (request := self._request_or_capture(target)) is not None:
                yield request
        if self.feed is None:
            return
        # While start() waits here the engine stays open (Scrapy closes a spider only once its start
        # is exhausted and nothing is pending); the requests it yields join those in flight.
        arrived: asyncio.Queue[FetchTarget | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_feed, args=(self.feed, loop, arrived), name="feed", daemon=True).start()
        while (more := await arrived.get()) is not None:
            if (request := self._request_or_capture(more)) is not None:
                yield request

    def _request_or_capture(self, target: FetchTarget) -> scrapy.Request | None:
        """The target's request, or None once the capture of a target Scrapy cannot request is written."""
        try:
            return self.request_for(target)
        except ValueError as error:  # Scrapy rejects the URL outright ("Missing scheme", ...)
            self.write(capture_for_bad_target(target, error))
            return None

    @staticmethod
    def _read_feed(feed: TextIO, loop: asyncio.AbstractEventLoop, arrived: asyncio.Queue[FetchTarget | None]) -> None:
        """Hand each target line to the reactor's loop as it arrives; None at the end of the stream."""
        try:
            for line in feed:
                if not line.strip():
                    continue
                try:
                    target = FetchTarget.from_json(line)
                except (ValueError, TypeError, KeyError) as error:
                    log.error("not a fetch target (%s): %.120s", error, line)
                    continue
                loop.call_soon_threadsafe(arrived.put_nowait, target)
        finally:
            loop.call_soon_threadsafe(arrived.put_nowait, None)

    def request_for(self, target: FetchTarget) -> scrapy.Request:
        if target.needs_browser:
            # Imported here: a crawl without a rendered target never loads the browser's stack.
            from spiders.browser import SETTLE_SECONDS, RenderJob

            job = RenderJob(
                target,
                screenshot_max_height=self.settings.getint("WATCHER_SCREENSHOT_MAX_HEIGHT"),
                settle_seconds=SETTLE_SECONDS,
            )
            # No conditional headers: a 304 would leave the browser nothing to render or photograph.
            return scrapy.Request(
                target.url,
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                meta={TARGET_META: target, START_META: True, **job.meta()},
            )
        headers: dict[str, str] = {}
        if target.etag:
            headers["If-None-Match"] = target.etag
        if target.last_modified:
            headers["If-Modified-Since"] = target.last_modified
        # dont_filter: two sources may share a URL, and each must get its own capture.
        return scrapy.Request(
            target.url,
            headers=headers,
            callback=self.parse,
            errback=self.failed,
            dont_filter=True,
            meta={TARGET_META: target, START_META: True},
        )

    # The callbacks write their capture and return nothing: Scrapy's item machinery has no part in it.
    def parse(self, response: Response, **kwargs: Any) -> None:
        capture = capture_from_response(response)
        job = response.meta.get(RENDER_META)
        self.write(capture if job is None else job.finish(capture))

    def failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        assert request is not None, "Scrapy sets failure.request before calling an errback"
        assert failure.value is not None
        max_body_bytes = self.settings.getint("DOWNLOAD_MAXSIZE")
        self.write(capture_from_failure(failure.value, request, max_body_bytes=max_body_bytes))

    def write(self, capture: Capture) -> None:
        assert self.writer is not None, "from_crawler gives the spider its writer"
        self.writer.write(capture)
