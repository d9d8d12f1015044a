"""Discovery (the hook after each batch of checks): a clinic's new pages, found from the stored
capture of a site entry point and recorded as page sources, to be checked in the same run.

A *site* source (``watcher sources add --site URL``) is a sitemap (``urlset``), a sitemap index, an
RSS/Atom feed or an HTML page that links to posts (a blog index). It is fetched and recorded like any
source — a check, and a snapshot when its list of links changed — but it is never analysed for
claims: the post titles of a listing would leak claims into the clinic's profile.

After its capture is recorded, the parent process reads the stored bytes (the spider stays thin) and
(the pure parts are in ``watcher.links``):

1. extracts links: ``<loc>`` of a sitemap (newest ``<lastmod>`` first), the child sitemaps of an
   index (fetched through the same polite crawl subprocess, nested at most ``MAX_SITEMAP_NESTING``
   levels and ``MAX_CHILD_SITEMAPS`` in all), feed item links, or every ``<a href>`` of an HTML page;
2. keeps those on the same site (same host, ``www.`` ignored, same port), drops ``DEFAULT_EXCLUDE``
   (assets, feeds, admin and search URLs), applies the source's ``include``/``exclude`` regular
   expressions (``re.search`` on the whole URL), drops URLs already watched;
3. drops URLs that robots.txt disallows for our user agent (robots.txt is fetched through the crawl;
   when it cannot be fetched the pages are added and the crawl enforces robots.txt when it fetches
   them);
4. adds at most ``max_pages`` pages in all per site as page sources of the site's clinic, with
   ``discovered_from_id`` = the site and the site's interval; they are checked in the same run.

Depth: ``max_depth`` 1 (the default) takes the pages the entry point lists. With 2 or more, the links
of a discovered page are followed too (from its stored bytes, when its content changes), up to
``max_depth`` hops from the entry point. The child sitemaps of an index are not hops.

Baseline rule. The first discovery of a site establishes the baseline: the pages it finds already
existed before we watched the site, so they are watched without ``new_page`` alerts (their first
snapshot is their baseline, like any page added by hand). Every later discovery is news: the page's
first snapshot raises the alerts of ``watcher.pipeline.new_pages``. Pages found by following a
baseline page's links during its first discovery are baseline too. Pages are never removed when
they leave a sitemap: a removed post is worth watching (its checks will say 404).

Bounds on bad input: entry documents larger than ``WATCHER_MAX_BODY_BYTES`` (also once un-gzipped),
at most ``MAX_DOCUMENT_URLS`` links read per document; malformed XML is a failed check
(``bad_sitemap``) of the site source, a bad child sitemap is a logged warning.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watcher.capture import Capture, FetchTarget
from watcher.config import Settings
from watcher.crawl import crawl
from watcher.db import Store
from watcher.extract import decode_body
from watcher.links import (
    DocumentError,
    EntryDocument,
    candidate_urls,
    html_links,
    parse_entry,
    parse_xml_links,
    robots_agent,
    robots_allows,
    robots_url,
    same_site,
    ungzip,
)
from watcher.models import Snapshot, Source, raw_bytes, utcnow
from watcher.pipeline.record import CheckResult
from watcher.sources import MAX_DEPTH_LIMIT, SiteOptions, discovery_info

log = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 50
MAX_SITEMAP_NESTING = 3


Fetch = Callable[[Sequence[FetchTarget]], Iterator[Capture]]


@dataclass
class DiscoveryReport:
    source_id: int
    added: list[int] = field(default_factory=list)
    baseline: bool = False
    skipped: Counter[str] = field(default_factory=Counter)


def record_discovered(
    session: Session, site: Source, urls: Sequence[str], *, depth: int, found_on: str, baseline: bool
) -> list[Source]:
    """Add ``urls`` as page sources of the site's clinic (skipping any already watched) and mark the
    site as discovered; returns the new sources. They inherit the site's interval, language, browser
    rendering, screenshots and CSS selectors (which a site applies to its pages, not its listing)."""
    added: list[Source] = []
    for url in urls:
        if session.scalar(select(Source.id).where(Source.url == url)) is not None:
            continue
        source = Source(
            url=url,
            kind="page",
            clinic_id=site.clinic_id,
            language=site.language,
            interval_seconds=site.interval_seconds,
            discovered_from_id=site.id,
            options={"discovery": {"depth": depth, "found_on": found_on, "baseline": baseline}},
            render=site.render,
            screenshot=site.screenshot,
            selectors=dict(site.selectors) if site.selectors else None,
            selectors_key=site.selectors_key,
        )
        session.add(source)
        added.append(source)
    site.discovered_at = utcnow()
    session.flush()
    return added


def _latest_snapshot(session: Session, source_id: int) -> Snapshot | None:
    return session.scalar(
        select(Snapshot)
        .where(Snapshot.source_id == source_id)
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
        .limit(1)
    )


def _known(session: Session, urls: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(urls), 500):
        chunk = list(urls[start : start + 500])
        known.update(session.scalars(select(Source.url).where(Source.url.in_(chunk))))
    return known


def _default_fetch(settings: Settings) -> Fetch:
    def fetch(targets: Sequence[FetchTarget]) -> Iterator[Capture]:
        return crawl(targets, settings=settings)

    return fetch


def discover(
    store: Store,
    source_id: int,
    *,
    settings: Settings,
    fetch: Fetch | None = None,
    robots: dict[str, str | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DiscoveryReport:
    """Discover new pages from the latest stored capture of ``source_id``: a site source, or a page
    discovered from one whose depth allows following its links. Records them; returns the report.
    ``robots`` caches robots.txt texts by URL across the discoveries of one run; when ``should_stop()``
    turns true during the fetches (the service is stopping) nothing is recorded."""
    fetcher = fetch or _default_fetch(settings)
    report = DiscoveryReport(source_id=source_id)
    with store.session() as session:
        source = session.get(Source, source_id)
        if source is None:
            return report
        is_site = source.kind == "site"
        site: Source | None
        if is_site:
            site, depth, baseline = source, 1, source.discovered_at is None
        else:
            info = discovery_info(source)
            site = session.get(Source, source.discovered_from_id) if source.discovered_from_id else None
            if site is None or not info:
                return report
            depth = int(info.get("depth", MAX_DEPTH_LIMIT)) + 1
            snapshots = (
                session.scalar(select(func.count()).select_from(Snapshot).where(Snapshot.source_id == source.id)) or 0
            )
            baseline = bool(info.get("baseline")) and snapshots <= 1
        options = SiteOptions.from_json(site.options)
        if depth > options.max_depth:
            return report
        snapshot = _latest_snapshot(session, source.id)
        if snapshot is None:
            return report
        body, content_type, final_url = raw_bytes(snapshot), snapshot.content_type, snapshot.final_url
        site_id = site.id
        site_urls = [site.url, final_url] if is_site else [site.url, source.url]
        already = (
            session.scalar(select(func.count()).select_from(Source).where(Source.discovered_from_id == site.id)) or 0
        )
    report.baseline = baseline
    found_on = final_url
    try:
        if is_site:
            document = parse_entry(body, content_type=content_type, url=final_url, max_bytes=settings.max_body_bytes)
        else:
            # A page: only its HTML links (a page that turned out to be a sitemap is not followed).
            document = EntryDocument("html", tuple(html_links(body, content_type=content_type, base_url=final_url)))
    except DocumentError as error:
        log.warning("discovery: %s: %s", final_url, error)
        return report
    robots = {} if robots is None else robots
    page_urls = list(document.urls)
    if is_site and document.is_index:
        page_urls = _expand_index(
            document,
            site_urls=site_urls,
            settings=settings,
            fetcher=fetcher,
            site_id=site_id,
            robots=robots,
            skipped=report.skipped,
        )
    candidates = candidate_urls(page_urls, site_urls=site_urls, options=options, skipped=report.skipped)
    with store.session() as session:
        known = _known(session, candidates)
    fresh = [url for url in candidates if url not in known]
    budget = options.max_pages - already
    if fresh and budget > 0 and settings.obey_robots:
        fresh = _robots_filter(
            fresh, settings=settings, fetcher=fetcher, site_id=site_id, robots=robots, skipped=report.skipped
        )
    if len(fresh) > max(budget, 0):
        report.skipped["max_pages"] += len(fresh) - max(budget, 0)
        log.warning(
            "discovery: %s: max_pages %d reached; %d new link(s) not added",
            site_urls[0],
            options.max_pages,
            len(fresh) - max(budget, 0),
        )
        fresh = fresh[: max(budget, 0)]
    if should_stop is not None and should_stop():
        return report  # the fetches above may have been cut short: decide nothing on them
    with store.session() as session:
        site_row = session.get(Source, site_id)
        if site_row is None:
            return report
        added = record_discovered(session, site_row, fresh, depth=depth, found_on=found_on, baseline=baseline)
        report.added = [source.id for source in added]
    if report.added or report.skipped:
        log.info(
            "discovery: %s: %d new page(s)%s%s",
            found_on,
            len(report.added),
            " (baseline: no new_page alerts)" if baseline and report.added else "",
            "; skipped " + ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) if report.skipped else "",
        )
    return report


def _fetch_documents(urls: Sequence[str], *, site_id: int, fetcher: Fetch) -> dict[str, Capture]:
    targets = [FetchTarget(source_id=site_id, url=url) for url in urls]
    return {capture.requested_url: capture for capture in fetcher(targets)}


def _expand_index(
    index: EntryDocument,
    *,
    site_urls: Sequence[str],
    settings: Settings,
    fetcher: Fetch,
    site_id: int,
    robots: dict[str, str | None],
    skipped: Counter[str],
) -> list[str]:
    """The page URLs of the child sitemaps of an index (nested indexes followed, within bounds); the
    first fetch also brings robots.txt, which the candidates are filtered by later."""
    pages: list[str] = []
    seen: set[str] = set()
    level = [url for url in index.urls if any(same_site(url, s) for s in site_urls)]
    skipped["off_site_sitemap"] += len(index.urls) - len(level)
    fetched = 0
    for _depth in range(MAX_SITEMAP_NESTING):
        level = [url for url in dict.fromkeys(level) if url not in seen]
        if not level:
            break
        if fetched + len(level) > MAX_CHILD_SITEMAPS:
            skipped["child_sitemaps_over_limit"] += fetched + len(level) - MAX_CHILD_SITEMAPS
            level = level[: MAX_CHILD_SITEMAPS - fetched]
        seen.update(level)
        fetched += len(level)
        extra = [robots_url(site_urls[0])] if settings.obey_robots and not robots else []
        captures = _fetch_documents([*level, *extra], site_id=site_id, fetcher=fetcher)
        for url in extra:
            robots[url] = _robots_text(captures.get(url))
        next_level: list[str] = []
        for url in level:
            capture = captures.get(url)
            if capture is None or capture.error_kind or capture.status != 200:
                reason = (capture.error or capture.error_kind or f"HTTP {capture.status}") if capture else "no answer"
                log.warning("discovery: child sitemap %s: %s", url, reason)
                skipped["child_sitemap_failed"] += 1
                continue
            try:
                child = parse_xml_links(
                    ungzip(capture.body, max_bytes=settings.max_body_bytes), base_url=capture.final_url
                )
            except DocumentError as error:
                log.warning("discovery: child sitemap %s: %s", url, error)
                skipped["child_sitemap_failed"] += 1
                continue
            if child.is_index:
                inner = [u for u in child.urls if any(same_site(u, s) for s in site_urls)]
                skipped["off_site_sitemap"] += len(child.urls) - len(inner)
                next_level.extend(inner)
            else:
                pages.extend(child.urls)
        level = next_level
    return pages


def _robots_text(capture: Capture | None) -> str | None:
    """robots.txt as text; "" (allow all) for a 4xx as RFC 9309 says; None when it could not be read
    (then nothing is filtered here and the crawl applies robots.txt when it fetches each page)."""
    if capture is None or capture.error_kind or capture.status is None:
        return None
    if capture.status == 200:
        return decode_body(capture.body, content_type=capture.header("Content-Type")).text
    if 400 <= capture.status < 500:
        return ""
    return None


def _robots_filter(
    urls: list[str],
    *,
    settings: Settings,
    fetcher: Fetch,
    site_id: int,
    robots: dict[str, str | None],
    skipped: Counter[str],
) -> list[str]:
    by_robots: dict[str, list[str]] = {}
    for url in urls:
        by_robots.setdefault(robots_url(url), []).append(url)
    missing = [url for url in by_robots if url not in robots]
    if missing:
        captures = _fetch_documents(missing, site_id=site_id, fetcher=fetcher)
        for url in missing:
            robots[url] = _robots_text(captures.get(url))
    agent = robots_agent(settings)
    allowed_all: set[str] = set()
    for robots_link, group in by_robots.items():
        text = robots.get(robots_link)
        if text is None:
            allowed_all.update(group)
            continue
        allowed, disallowed = robots_allows(text, group, agent=agent)
        allowed_all.update(allowed)
        if disallowed:
            skipped["robots"] += len(disallowed)
    return [url for url in urls if url in allowed_all]


def discover_after(
    store: Store,
    results: Iterable[CheckResult],
    *,
    settings: Settings,
    robots: dict[str, str | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[int]:
    """Discovery for the site sources (and followable discovered pages) among check results;
    returns the ids of the pages added, to be checked next."""
    added: list[int] = []
    for result in results:
        if should_stop is not None and should_stop():
            break
        if result.outcome not in ("changed", "unchanged", "not_modified"):
            continue
        with store.session() as session:
            source = session.get(Source, result.source_id)
            if source is None:
                continue
            is_site = source.kind == "site"
            follow = not is_site and result.outcome == "changed" and bool(discovery_info(source))
        if not (is_site or follow):
            continue
        try:
            added.extend(
                discover(store, result.source_id, settings=settings, robots=robots, should_stop=should_stop).added
            )
        except Exception as error:  # one site's discovery must not stop the run
            log.error("discovery of %s failed: %s", result.url, " ".join(str(error).split())[:300])
            log.debug("discovery failure", exc_info=True)
    return added
