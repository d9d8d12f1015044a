"""The HTTP(S) download handler, timed: ``duration_ms`` starts when a target's first transfer does."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

STARTED_META = "watcher_started"


class RenderFailed(Exception):
    """The headless browser failed on a page or went away (becomes error_kind "render_failed")."""


class RenderTimeout(RenderFailed):
    """A page did not finish rendering within WATCHER_RENDER_TIMEOUT (error_kind "render_timeout")."""


class TimedHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, noting when the first attempt really starts.

    Earlier hooks (middlewares, the request_reached_downloader signal) fire before the request waits
    in its site's queue behind other targets and the download delay, which is not fetching time.
    Retries and redirects copy the meta, so the duration covers them and their backoff.
    """

    async def download_request(self, request: Request) -> Response:
        request.meta.setdefault(STARTED_META, time.monotonic())
        return await super().download_request(request)
