"""Scrapy's downloader, with a request counted against its site's concurrency as it leaves the queue.

Scrapy 2.19's ``Downloader._process_queue`` hands each request it takes from a site's queue to a
task, and the request joins ``slot.transferring`` only when that task first runs, an event-loop turn
or more later. A second request reaching the same site's queue in between (the robots.txt middleware
releases the requests that waited on a site's robots.txt one callback apart) found the slot free and
went out too: two requests to one site at once, against ``CONCURRENT_REQUESTS_PER_DOMAIN = 1``. Seen
in about one crawl in forty of ``test_sites_are_paced_independently`` under load, once the politeness
delay between them had passed; a delay does not close it, counting the request when it is taken does.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class PacedDownloader(Downloader):
    """``_process_queue`` as Scrapy's, but for the one line marked below (``slot.transferring`` is a
    set, so the task adding the request again, and removing it when done, is unchanged)."""

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return  # a delayed call of this method is pending
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the change: counted now, not when its task starts
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # one request per delay: the call below only sets the next delayed call
                self._process_queue(slot)
                break
