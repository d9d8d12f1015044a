"""``python -m spiders``: read FetchTarget lines on stdin, crawl, write Capture lines on stdout.

Run by ``watcher.crawl`` in a subprocess; settings arrive as WATCHER_* environment variables, and
``--lifeline-fd=N`` names the pipe whose end-of-file means the parent is gone (``watcher.lifeline``).

With ``--serve`` (``watcher.crawl.Crawler``, the long-lived child of ``watcher run``) the targets are not
read up front: each line is crawled as it arrives, batch after batch, until stdin closes.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit

from watcher.capture import FetchTarget
from watcher.config import Settings, load_settings
from watcher.crawl import SERVE_OPTION
from watcher.errors import ConfigError
from watcher.lifeline import die_with_parent, lifeline_fd


def main() -> int:
    die_with_parent(lifeline_fd(sys.argv[1:]))  # before anything else: never crawl for nobody
    capture_fd = _reserve_stdout()
    serve = SERVE_OPTION in sys.argv[1:]
    try:
        settings = load_settings()
        targets = [] if serve else read_targets(sys.stdin)
    except (ConfigError, ValueError, TypeError) as error:
        print(f"ERROR spiders: {error}", file=sys.stderr)
        return 2
    if targets or serve:
        run(targets, settings=settings, capture_fd=capture_fd, feed=sys.stdin if serve else None)
    return 0


def read_targets(stream: TextIO) -> list[FetchTarget]:
    return [FetchTarget.from_json(line) for line in stream if line.strip()]


def run(targets: list[FetchTarget], *, settings: Settings, capture_fd: int, feed: TextIO | None = None) -> None:
    # Imported here: Scrapy picks and installs the reactor when the process starts, not at import.
    from scrapy.crawler import CrawlerProcess

    from spiders.clinic_pages import ClinicPagesSpider

    process = CrawlerProcess(crawl_settings(settings, targets, capture_fd=capture_fd))
    process.crawl(ClinicPagesSpider, targets=targets, feed=feed)
    process.start()


def crawl_settings(settings: Settings, targets: list[FetchTarget], *, capture_fd: int) -> dict[str, Any]:
    """Scrapy's settings for these targets: the browser's part only when one of them needs it, so that
    a crawl without a rendered target loads nothing of the browser and starts none."""
    from spiders.settings import scrapy_settings

    result = scrapy_settings(settings, capture_fd=capture_fd)
    rendered = [target for target in targets if target.needs_browser]
    if rendered:
        from spiders.browser import browser_settings, reserve_proxy_socket

        result.update(
            browser_settings(
                browser_path=settings.browser_path,
                render_timeout=settings.render_timeout,
                proxy=reserve_proxy_socket(),
                max_pages=settings.browser_max_pages,
                hosts=sorted({(urlsplit(target.url).hostname or "").lower() for target in rendered}),
            )
        )
    return result


def _reserve_stdout() -> int:
    """Keep the real stdout for captures only and point fd 1 (and sys.stdout) at stderr, so a stray
    print() or a library writing to stdout cannot corrupt the protocol."""
    sys.stdout.flush()
    capture_fd = os.dup(1)
    os.dup2(2, 1)
    return capture_fd


if __name__ == "__main__":
    sys.exit(main())
