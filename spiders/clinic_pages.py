"""The one spider: fetch each target once (with conditional headers) and yield one Capture for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import scrapy
from twisted.python.failure import Failure

from spiders.items import (
    RENDER_META,
    TARGET_META,
    capture_for_bad_target,
    capture_from_failure,
    capture_from_response,
)
from watcher.capture import Capture, FetchTarget

if TYPE_CHECKING:
    from scrapy.http import Response


class ClinicPagesSpider(scrapy.Spider):
    name = "clinic_pages"

    def __init__(self, targets: Sequence[FetchTarget] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = list(targets)

    async def start(self) -> AsyncIterator[scrapy.Request | Capture]:
        for target in self.targets:
            try:
                request = self.request_for(target)
            except ValueError as error:  # Scrapy rejects the URL outright ("Missing scheme", ...)
                yield capture_for_bad_target(target, error)
                continue
            yield request

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
                meta={TARGET_META: target, **job.meta()},
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
            meta={TARGET_META: target},
        )

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Capture]:
        capture = capture_from_response(response)
        job = response.meta.get(RENDER_META)
        yield capture if job is None else job.finish(capture)

    def failed(self, failure: Failure) -> Iterator[Capture]:
        request = getattr(failure, "request", None)
        assert request is not None, "Scrapy sets failure.request before calling an errback"
        assert failure.value is not None
        yield capture_from_failure(failure.value, request, max_body_bytes=self.settings.getint("DOWNLOAD_MAXSIZE"))
