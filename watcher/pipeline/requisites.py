"""Page requisites (a source's ``--requisites``): after a round of checks, every new snapshot of such a
source has the stylesheets, images and scripts its HTML references (``watcher.links.requisite_urls``,
same-site and off-site, at most ``MAX_REQUISITES``) fetched and kept with it, so that the WARC export
replays the page as it looked.

Fetching is as careful as the crawl's: one request at a time, each through the private-address guard
of live fetches (``watcher.webarchive.guarded_get``, connected to the very address checked), with the
contact-bearing user agent, ``WATCHER_DOWNLOAD_DELAY`` seconds between two requests to one host,
``robots.txt`` honoured when ``WATCHER_OBEY_ROBOTS=1``, ``WATCHER_DOWNLOAD_TIMEOUT`` and
``WATCHER_MAX_BODY_BYTES``. A redirect is kept as it came and its target fetched too. A requisite that
cannot be fetched (refused address, network failure, a truncated body, HTTP 4xx/5xx) is logged and
left out: the check stands as recorded.

Storage: ``requisites`` holds each (URL, content) once, however many snapshots use it, its bytes in
``bodies`` (once per content, shared with snapshots and with the same file under other URLs);
``snapshot_requisites`` ties it to a snapshot with the time it was fetched for it. A snapshot that has
its requisites already is not fetched again.
"""

from __future__ import annotations

import http.client
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.capture import sha256_hex
from watcher.config import Settings
from watcher.db import Store
from watcher.errors import FetchError
from watcher.links import requisite_urls, robots_agent, robots_allows, robots_url
from watcher.models import Requisite, Snapshot, SnapshotRequisite, Source, raw_bytes, store_body, utcnow
from watcher.pipeline.record import CheckResult
from watcher.webarchive import HttpResponse, decoded_body, guarded_get, site_headers

log = logging.getLogger(__name__)

MAX_REQUISITES = 60  # per snapshot, redirect targets included


@dataclass
class PoliteFetcher:
    """Guarded GETs, ``WATCHER_DOWNLOAD_DELAY`` apart per host, robots.txt honoured (cached per origin)."""

    settings: Settings
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    last: dict[str, float] = field(default_factory=dict)
    robots: dict[str, str | None] = field(default_factory=dict)
    requests: int = 0

    def get(self, url: str) -> HttpResponse | None:
        """The answer, or None (logged) when the guard, robots.txt or the network says no."""
        if self.settings.obey_robots and not self._robots_allow(url):
            log.info("requisite %s: disallowed by robots.txt", url)
            return None
        return self._get(url)

    def _get(self, url: str) -> HttpResponse | None:
        host = (urlsplit(url).hostname or "").lower()
        delay = self.settings.download_delay
        if host in self.last and delay > 0:
            remaining = self.last[host] + delay - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last[host] = self.clock()
        self.requests += 1
        try:
            return guarded_get(url, settings=self.settings, user_agent=self.settings.effective_user_agent)
        except FetchError as error:  # a refused address (RefusedAddressError) or no DNS answer
            log.warning("requisite %s: %s", url, error)
        except (OSError, http.client.HTTPException) as error:
            log.warning("requisite %s: %s", url, getattr(error, "strerror", None) or error or type(error).__name__)
        return None

    def _robots_allow(self, url: str) -> bool:
        origin = robots_url(url)
        if origin not in self.robots:
            answer = self._get(origin)
            ok = answer is not None and answer.status == 200 and not answer.truncated
            self.robots[origin] = answer.body.decode("utf-8", "replace") if ok and answer else None
        text = self.robots[origin]
        return text is None or bool(robots_allows(text, [url], agent=robots_agent(self.settings))[0])


def fetch_requisites_after(
    store: Store,
    results: Sequence[CheckResult],
    *,
    settings: Settings,
    fetcher: PoliteFetcher | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Fetch and keep the requisites of the new snapshots among ``results`` whose source has
    ``--requisites``; returns how many (snapshot, requisite) pairs were kept."""
    fetcher = fetcher or PoliteFetcher(settings)
    kept = 0
    for result in results:
        if result.snapshot_id is None or (should_stop is not None and should_stop()):
            continue
        with store.session() as session:
            source = session.get(Source, result.source_id)
            snapshot = session.get(Snapshot, result.snapshot_id)
            if source is None or snapshot is None or not source.requisites or snapshot.archive_url is not None:
                continue
            if session.scalar(select(SnapshotRequisite).where(SnapshotRequisite.snapshot_id == snapshot.id).limit(1)):
                continue  # kept already
            urls = requisite_urls(
                raw_bytes(snapshot),
                content_type=snapshot.content_type,
                base_url=snapshot.final_url,
                limit=MAX_REQUISITES,
            )
        kept += keep_requisites(store, result.snapshot_id, urls, fetcher, should_stop=should_stop)
    return kept


def keep_requisites(
    store: Store,
    snapshot_id: int,
    urls: list[str],
    fetcher: PoliteFetcher,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Fetch ``urls`` (and the targets of their redirects, within ``MAX_REQUISITES``) for the snapshot,
    each stored in its own short transaction: no write lock is held while the network answers."""
    queue = list(dict.fromkeys(urls))
    kept = 0
    for url in queue:
        if should_stop is not None and should_stop():
            break
        answer = fetcher.get(url)
        if answer is None or answer.truncated or answer.status >= 400 or answer.status == 304:
            if answer is not None:
                log.info("requisite %s: HTTP %s%s left out", url, answer.status, " (truncated)" * answer.truncated)
            continue
        try:
            body = decoded_body(answer.body, answer.header("Content-Encoding"))
        except (ValueError, zlib.error) as problem:
            log.warning("requisite %s: undecodable body (%s)", url, problem)
            continue
        location = answer.header("Location")
        if 300 <= answer.status < 400 and location and len(queue) < MAX_REQUISITES:
            target = urljoin(url, location)
            if target not in queue:
                queue.append(target)
        with store.session() as session:
            _link(session, snapshot_id, url, answer, body)
        kept += 1
    return kept


def _link(session: Session, snapshot_id: int, url: str, answer: HttpResponse, body: bytes) -> None:
    """Store the content once per (URL, SHA-256), and tie it to the snapshot."""
    digest, url_digest = sha256_hex(body), sha256_hex(url.encode("utf-8"))
    requisite = session.scalar(select(Requisite).where(Requisite.url_sha256 == url_digest, Requisite.sha256 == digest))
    now = utcnow()
    if requisite is None:
        media = (answer.header("Content-Type") or "").strip()[:200] or None
        requisite = Requisite(
            url=url, url_sha256=url_digest, fetched_at=now, http_status=answer.status,
            headers=site_headers(answer.headers), content_type=media, sha256=store_body(session, body),
            size=len(body),
        )  # fmt: skip
        session.add(requisite)
        session.flush()
    known = session.get(SnapshotRequisite, (snapshot_id, requisite.id))
    if known is None:
        session.add(SnapshotRequisite(snapshot_id=snapshot_id, requisite_id=requisite.id, fetched_at=now))
        session.flush()
