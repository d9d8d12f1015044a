"""Site sources: discovering a clinic's new pages from a site entry point, and alerting on them.

A *site* source (``watcher sources add --site URL``) is a sitemap (``urlset``), a sitemap index, an
RSS/Atom feed or an HTML page that links to posts (a blog index). It is fetched and recorded like any
source — a check, and a snapshot when its list of links changed — but it is never analysed for
claims: the post titles of a listing would leak claims into the clinic's profile.

After its capture is recorded, the parent process reads the stored bytes (the spider stays thin) and:

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
first snapshot raises a ``new_page`` alert carrying its claims (indications with strengths and
evidence sentences, treatments, recruitment/testimonial/safety markers, reference count), the
marker alerts of the page (``trial_or_monitor_recruitment``, ``testimonial_added``, ...), and, for
each indication that no other page of the clinic ever claimed (strength >= 1) before, a clinic-level
``new_indication`` alert (``details["scope"] == "clinic"``): "clinic X now claims bipolar_disorder,
first seen on new page Y". Pages found by following a baseline page's links during its first
discovery are baseline too. Pages are never removed when they leave a sitemap: a removed post is
worth watching (its checks will say 404).

Bounds on bad input: entry documents larger than ``WATCHER_MAX_BODY_BYTES`` (also once un-gzipped),
at most ``MAX_DOCUMENT_URLS`` links read per document; malformed XML is a failed check
(``bad_sitemap``) of the site source, a bad child sitemap is a logged warning.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watcher.capture import Capture, FetchTarget
from watcher.config import Settings
from watcher.db import Store
from watcher.errors import InputError
from watcher.extract import Extracted, decode_body
from watcher.models import Alert, ClaimProfileRecord, Snapshot, Source, TextVersion, utcnow
from watcher.quality import Verdict

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 1
DEFAULT_MAX_PAGES = 100
MAX_DEPTH_LIMIT = 5
MAX_PAGES_LIMIT = 10_000
MAX_PATTERNS = 20
MAX_PATTERN_CHARS = 300
MAX_DOCUMENT_URLS = 50_000  # the sitemap protocol's limit per file; links beyond it are ignored
MAX_CHILD_SITEMAPS = 50
MAX_SITEMAP_NESTING = 3
MAX_URL_CHARS = 2048  # Source.url
NEW_PAGE = "new_page"

# Never pages worth watching: assets and downloads, feeds, CMS machinery, search and comment links.
DEFAULT_EXCLUDE = (
    r"\.(?:jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|pdf|zip|gz|rar|7z|mp3|mp4|m4a|mov|avi|wmv|webm"
    r"|css|js|json|xml|txt|woff2?|ttf|eot|docx?|xlsx?|pptx?|csv)(?:[?#].*)?$",
    r"/(?:wp-admin|wp-login\.php|wp-json|xmlrpc\.php|feed|cdn-cgi)(?:/|$|\?)",
    r"[?&](?:s|replytocom|share|preview|p_id)=",
)
_DEFAULT_EXCLUDE = tuple(re.compile(pattern, re.IGNORECASE) for pattern in DEFAULT_EXCLUDE)
_GZIP_MAGIC = b"\x1f\x8b"
_XML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<\?xml-stylesheet[^>]*>\s*)?"
    rb"<(?:[\w.-]+:)?(urlset|sitemapindex|rss|feed|RDF)\b", re.DOTALL)
_XML_END = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex|rss|feed|RDF)>\s*$")
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#")


class DocumentError(ValueError):
    """An entry document that cannot be read; ``kind`` fits Check.error_kind."""

    def __init__(self, message: str, *, kind: str = "bad_sitemap") -> None:
        super().__init__(message)
        self.kind = kind


# --- options -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SiteOptions:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"max_depth": self.max_depth, "max_pages": self.max_pages, "include": list(self.include),
                "exclude": list(self.exclude)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SiteOptions:
        """Stored options (validated when stored); unknown or damaged values fall back to defaults."""
        data = data or {}
        try:
            return site_options(max_depth=data.get("max_depth"), max_pages=data.get("max_pages"),
                                include=data.get("include") or (), exclude=data.get("exclude") or ())
        except (InputError, TypeError, ValueError) as error:
            log.warning("ignoring damaged site options %r: %s", dict(data), error)
            return cls()


def site_options(*, max_depth: int | None = None, max_pages: int | None = None,
                 include: Iterable[str] = (), exclude: Iterable[str] = ()) -> SiteOptions:
    """Validated options; a bad value raises InputError with one line naming the option."""
    depth = DEFAULT_MAX_DEPTH if max_depth is None else int(max_depth)
    pages = DEFAULT_MAX_PAGES if max_pages is None else int(max_pages)
    if not 1 <= depth <= MAX_DEPTH_LIMIT:
        raise InputError(f"invalid --max-depth {depth}: use 1 to {MAX_DEPTH_LIMIT}")
    if not 1 <= pages <= MAX_PAGES_LIMIT:
        raise InputError(f"invalid --max-pages {pages}: use 1 to {MAX_PAGES_LIMIT}")
    includes = tuple(include)
    excludes = tuple(exclude)
    for option, patterns in (("--include", includes), ("--exclude", excludes)):
        if len(patterns) > MAX_PATTERNS:
            raise InputError(f"too many {option} patterns: at most {MAX_PATTERNS}")
        for pattern in patterns:
            compile_pattern(pattern, option=option)
    return SiteOptions(max_depth=depth, max_pages=pages, include=includes, exclude=excludes)


def compile_pattern(pattern: str, *, option: str = "pattern") -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise InputError(f"invalid {option} pattern {pattern!r}: empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InputError(f"invalid {option} pattern: longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise InputError(f"invalid {option} pattern {pattern!r}: {error}") from None


# --- documents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryDocument:
    """The links of an entry document: pages (``urlset``, ``feed``, ``html``) or sitemaps (``sitemapindex``)."""

    kind: str
    urls: tuple[str, ...]
    ignored: int = 0  # links beyond MAX_DOCUMENT_URLS

    @property
    def is_index(self) -> bool:
        return self.kind == "sitemapindex"

    def text(self) -> str:
        """The document as stored text (one URL a line): what a site source's snapshots compare."""
        title = {"urlset": "# sitemap", "sitemapindex": "# sitemap index", "feed": "# feed"}.get(self.kind, "# links")
        return "\n".join([title, *self.urls])


def ungzip(body: bytes, *, max_bytes: int) -> bytes:
    """A gzipped sitemap (``sitemap.xml.gz``), inflated to at most ``max_bytes``."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise DocumentError(f"sitemap is not valid gzip: {error}") from None
    if len(data) > max_bytes:
        raise DocumentError(f"sitemap is larger than {max_bytes} bytes once decompressed", kind="too_large")
    if not inflater.eof:
        raise DocumentError("sitemap is not valid gzip: the compressed data is cut off")
    return data


def is_xml_document(body: bytes) -> bool:
    """A sitemap, sitemap index or feed (by its root element), gzipped or not."""
    if body.startswith(_GZIP_MAGIC):
        return True
    head = body[:4096].lstrip(b"\xef\xbb\xbf")
    return _XML_START.match(head) is not None


def parse_entry(body: bytes, *, content_type: str | None, url: str, max_bytes: int) -> EntryDocument:
    """The links of an entry document (XML sitemap/index/feed or HTML); DocumentError if unreadable."""
    if is_xml_document(body):
        return parse_xml_links(ungzip(body, max_bytes=max_bytes), base_url=url)
    return EntryDocument("html", tuple(html_links(body, content_type=content_type, base_url=url)))


def _local(tag: Any) -> str:
    from lxml import etree

    return str(etree.QName(tag).localname) if isinstance(tag, str) else ""


def _xml_root(data: bytes) -> Any:
    from lxml import etree

    strict = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(data, strict)
    except etree.XMLSyntaxError as error:
        problem = " ".join(str(error).split())[:200]
    # Hand-made sitemaps often hold a bare "&" in a URL; keep what a forgiving parse recovers, but
    # only from a document that ends with its root's end tag (a cut-off one is an error).
    if _XML_END.search(data[-512:]) is None:
        raise DocumentError(f"sitemap is not well-formed XML: {problem}")
    lenient = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                              remove_comments=True, remove_pis=True, recover=True)
    try:
        root = etree.fromstring(data, lenient)
    except etree.XMLSyntaxError:
        root = None
    if root is None or _local(root.tag) not in {"urlset", "sitemapindex", "rss", "feed", "RDF"} or not any(
            _local(el.tag) in {"loc", "link"} for el in root.iter()):
        raise DocumentError(f"sitemap is not well-formed XML: {problem}")
    log.warning("sitemap has XML errors (%s); using the %s links that could be read", problem,
                sum(1 for el in root.iter() if _local(el.tag) in {"loc", "link"}))
    return root


def parse_xml_links(data: bytes, *, base_url: str) -> EntryDocument:
    root = _xml_root(data)
    kind = _local(root.tag)
    entries: list[tuple[str, str]] = []  # (url, lastmod)
    ignored = 0
    if kind in {"urlset", "sitemapindex"}:
        wanted_parent = "url" if kind == "urlset" else "sitemap"
        for item in root:
            if _local(item.tag) != wanted_parent:
                continue
            loc = lastmod = ""
            for child in item:
                name = _local(child.tag)
                if name == "loc":
                    loc = (child.text or "").strip()
                elif name == "lastmod":
                    lastmod = (child.text or "").strip()
            if not loc:
                continue
            if len(entries) >= MAX_DOCUMENT_URLS:
                ignored += 1
                continue
            entries.append((urljoin(base_url, loc), lastmod))
        # Newest first, so that a max_pages cap keeps the recent posts; stable for equal dates.
        entries.sort(key=lambda entry: entry[1], reverse=True)
    elif kind in {"rss", "RDF", "feed"}:
        for element in root.iter():
            if _local(element.tag) != "link" or _local(element.getparent().tag) not in {"item", "entry"}:
                continue
            href = element.get("href") if kind == "feed" else element.text
            if kind == "feed" and element.get("rel") not in (None, "alternate"):
                continue
            if not href or not href.strip():
                continue
            if len(entries) >= MAX_DOCUMENT_URLS:
                ignored += 1
                continue
            entries.append((urljoin(base_url, href.strip()), ""))
        kind = "feed"
    else:
        raise DocumentError(f"not a sitemap or feed: the root element is <{kind}>")
    if ignored:
        log.warning("%s lists more than %d URLs; %d ignored", base_url, MAX_DOCUMENT_URLS, ignored)
    return EntryDocument(kind, tuple(url for url, _ in entries), ignored)


def html_links(body: bytes, *, content_type: str | None, base_url: str) -> list[str]:
    """Absolute URLs of the ``<a href>``/``<area href>`` links of an HTML page, in document order
    (``<base href>`` honoured; script, mail and phone links and in-page anchors skipped)."""
    import lxml.html
    from lxml import etree

    text = decode_body(body, content_type=content_type).text
    if not text.strip():
        return []
    try:
        document = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for element in document.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    links: list[str] = []
    for element in document.iter("a", "area"):
        href = (element.get("href") or "").strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES):
            continue
        links.append(urljoin(base, href))
        if len(links) >= MAX_DOCUMENT_URLS:
            log.warning("%s has more than %d links; the rest are ignored", base_url, MAX_DOCUMENT_URLS)
            break
    return links


# --- filtering -----------------------------------------------------------------------------------


def _site_key(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    if port in (80, 443):
        port = None  # http and https of one host are one site
    return host, port


def same_site(url: str, site_url: str) -> bool:
    """Same host (``www.`` ignored) and port; http and https count as one site."""
    key = _site_key(url)
    return key is not None and key == _site_key(site_url)


def candidate_urls(urls: Iterable[str], *, site_urls: Sequence[str], options: SiteOptions,
                   skipped: Counter[str] | None = None) -> list[str]:
    """The links worth adding, normalised and deduplicated, in order: same site, not excluded by
    default or by ``exclude``, matching ``include`` when given, not one of ``site_urls``."""
    from watcher.sources import normalize_url

    counts: Counter[str] = skipped if skipped is not None else Counter()
    includes = [re.compile(p) for p in options.include]
    excludes = [re.compile(p) for p in options.exclude]
    own = set()
    for site_url in site_urls:
        try:
            own.add(normalize_url(site_url))
        except InputError:
            continue
    seen: set[str] = set()
    out: list[str] = []
    for raw in urls:
        try:
            url = normalize_url(raw)
        except InputError:
            counts["invalid"] += 1
            continue
        if url in seen or url in own:
            continue
        seen.add(url)
        if len(url) > MAX_URL_CHARS:
            counts["too_long"] += 1
        elif not any(same_site(url, site_url) for site_url in site_urls):
            counts["off_site"] += 1
        elif any(p.search(url) for p in _DEFAULT_EXCLUDE):
            counts["default_exclude"] += 1
        elif includes and not any(p.search(url) for p in includes):
            counts["not_included"] += 1
        elif any(p.search(url) for p in excludes):
            counts["excluded"] += 1
        else:
            out.append(url)
    return out


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def robots_agent(settings: Settings) -> str:
    # The product token robots.txt groups are matched on; the same as spiders.settings.robots_token.
    user_agent = settings.effective_user_agent
    return user_agent.split("/", 1)[0].split(None, 1)[0] if user_agent.strip() else "watcher"


def robots_allows(robots_txt: str, urls: Iterable[str], *, agent: str) -> tuple[list[str], list[str]]:
    """(allowed, disallowed) by a robots.txt, parsed as Scrapy's crawl parses it (Protego)."""
    from protego import Protego

    rules = Protego.parse(robots_txt)
    allowed: list[str] = []
    disallowed: list[str] = []
    for url in urls:
        (allowed if rules.can_fetch(url, agent) else disallowed).append(url)
    return allowed, disallowed


# --- site captures in the pipeline ----------------------------------------------------------------


def assess_site_document(capture: Capture, *, max_bytes: int) -> tuple[Extracted | None, Verdict] | None:
    """What ``record_capture`` compares for a site source that is a sitemap or feed: its list of URLs,
    one a line, so that its snapshots and diffs show pages coming and going. A malformed one is a
    failed check (``bad_sitemap``). None for anything else: an HTML entry point is judged as a page
    (main text and the quality gate)."""
    if capture.error_kind is not None or capture.status != 200 or not is_xml_document(capture.body):
        return None
    if capture.truncated:
        return None, Verdict(ok=False, outcome="error", kind="truncated", reason="the sitemap was cut off")
    try:
        document = parse_xml_links(ungzip(capture.body, max_bytes=max_bytes),
                                   base_url=capture.final_url or capture.requested_url)
    except DocumentError as error:
        return None, Verdict(ok=False, outcome="error", kind=error.kind, reason=str(error))
    return Extracted(title=document.kind, text=document.text(), language=None), Verdict(ok=True)


# --- discovering and recording -------------------------------------------------------------------


Fetch = Callable[[Sequence[FetchTarget]], Iterator[Capture]]


@dataclass
class DiscoveryReport:
    source_id: int
    added: list[int] = field(default_factory=list)
    baseline: bool = False
    skipped: Counter[str] = field(default_factory=Counter)


def discovery_info(source: Source) -> dict[str, Any]:
    """What discovery recorded on a discovered page: depth, found_on (URL), baseline."""
    info = (source.options or {}).get("discovery") if source.kind == "page" else None
    return info if isinstance(info, dict) else {}


def record_discovered(session: Session, site: Source, urls: Sequence[str], *, depth: int, found_on: str,
                      baseline: bool) -> list[Source]:
    """Add ``urls`` as page sources of the site's clinic (skipping any already watched) and mark the
    site as discovered; returns the new sources."""
    added: list[Source] = []
    for url in urls:
        if session.scalar(select(Source.id).where(Source.url == url)) is not None:
            continue
        source = Source(url=url, kind="page", clinic_id=site.clinic_id, language=site.language,
                        interval_seconds=site.interval_seconds, discovered_from_id=site.id,
                        options={"discovery": {"depth": depth, "found_on": found_on, "baseline": baseline}})
        session.add(source)
        added.append(source)
    site.discovered_at = utcnow()
    session.flush()
    return added


def _latest_snapshot(session: Session, source_id: int) -> Snapshot | None:
    return session.scalar(select(Snapshot).where(Snapshot.source_id == source_id)
                          .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1))


def _known(session: Session, urls: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(urls), 500):
        chunk = list(urls[start:start + 500])
        known.update(session.scalars(select(Source.url).where(Source.url.in_(chunk))))
    return known


def _default_fetch(settings: Settings) -> Fetch:
    def fetch(targets: Sequence[FetchTarget]) -> Iterator[Capture]:
        from watcher.crawl import crawl

        return crawl(targets, settings=settings)

    return fetch


def discover(store: Store, source_id: int, *, settings: Settings, fetch: Fetch | None = None,
             robots: dict[str, str | None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> DiscoveryReport:
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
            snapshots = session.scalar(select(func.count()).select_from(Snapshot)
                                       .where(Snapshot.source_id == source.id)) or 0
            baseline = bool(info.get("baseline")) and snapshots <= 1
        options = SiteOptions.from_json(site.options)
        if depth > options.max_depth:
            return report
        snapshot = _latest_snapshot(session, source.id)
        if snapshot is None:
            return report
        from watcher.pipeline import raw_bytes

        body, content_type, final_url = raw_bytes(snapshot), snapshot.content_type, snapshot.final_url
        site_id = site.id
        site_urls = [site.url, final_url] if is_site else [site.url, source.url]
        already = session.scalar(select(func.count()).select_from(Source)
                                 .where(Source.discovered_from_id == site.id)) or 0
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
        page_urls = _expand_index(document, site_urls=site_urls, settings=settings, fetcher=fetcher,
                                  site_id=site_id, robots=robots, skipped=report.skipped)
    candidates = candidate_urls(page_urls, site_urls=site_urls, options=options, skipped=report.skipped)
    with store.session() as session:
        known = _known(session, candidates)
    fresh = [url for url in candidates if url not in known]
    budget = options.max_pages - already
    if fresh and budget > 0 and settings.obey_robots:
        fresh = _robots_filter(fresh, settings=settings, fetcher=fetcher, site_id=site_id, robots=robots,
                               skipped=report.skipped)
    if len(fresh) > max(budget, 0):
        report.skipped["max_pages"] += len(fresh) - max(budget, 0)
        log.warning("discovery: %s: max_pages %d reached; %d new link(s) not added", site_urls[0],
                    options.max_pages, len(fresh) - max(budget, 0))
        fresh = fresh[:max(budget, 0)]
    if should_stop is not None and should_stop():
        return report  # the fetches above may have been cut short: decide nothing on them
    with store.session() as session:
        site_row = session.get(Source, site_id)
        if site_row is None:
            return report
        added = record_discovered(session, site_row, fresh, depth=depth, found_on=found_on, baseline=baseline)
        report.added = [source.id for source in added]
    if report.added or report.skipped:
        log.info("discovery: %s: %d new page(s)%s%s", found_on, len(report.added),
                 " (baseline: no new_page alerts)" if baseline and report.added else "",
                 "; skipped " + ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items()))
                 if report.skipped else "")
    return report


def _fetch_documents(urls: Sequence[str], *, site_id: int, fetcher: Fetch) -> dict[str, Capture]:
    targets = [FetchTarget(source_id=site_id, url=url) for url in urls]
    return {capture.requested_url: capture for capture in fetcher(targets)}


def _expand_index(index: EntryDocument, *, site_urls: Sequence[str], settings: Settings, fetcher: Fetch,
                  site_id: int, robots: dict[str, str | None], skipped: Counter[str]) -> list[str]:
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
            level = level[:MAX_CHILD_SITEMAPS - fetched]
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
                child = parse_xml_links(ungzip(capture.body, max_bytes=settings.max_body_bytes),
                                        base_url=capture.final_url)
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


def _robots_filter(urls: list[str], *, settings: Settings, fetcher: Fetch, site_id: int,
                   robots: dict[str, str | None], skipped: Counter[str]) -> list[str]:
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


def discover_after(store: Store, results: Iterable[Any], *, settings: Settings,
                   robots: dict[str, str | None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> list[int]:
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
            follow = (not is_site and result.outcome == "changed" and bool(discovery_info(source)))
        if not (is_site or follow):
            continue
        try:
            added.extend(discover(store, result.source_id, settings=settings, robots=robots,
                                  should_stop=should_stop).added)
        except Exception as error:  # one site's discovery must not stop the run
            log.error("discovery of %s failed: %s", result.url, " ".join(str(error).split())[:300])
            log.debug("discovery failure", exc_info=True)
    return added


def check_with_discovery(store: Store, source_ids: Sequence[int], *, settings: Settings,
                         on_recorded: Callable[[Session, Any], None] | None = None,
                         should_stop: Callable[[], bool] | None = None) -> Iterator[Any]:
    """Check the sources (``pipeline.check_sources`` with claim analysis), discover new pages from the
    site sources among them, check those in the same run, and so on up to the depth bound. Yields a
    ``CheckResult`` per check."""
    from watcher.pipeline import check_sources
    from watcher.processing import analyse_new_version

    pending = list(dict.fromkeys(source_ids))
    robots: dict[str, str | None] = {}
    for _round in range(MAX_DEPTH_LIMIT + 1):
        if not pending:
            return
        results = []
        for result in check_sources(store, pending, settings=settings, on_new_version=analyse_new_version,
                                    on_recorded=on_recorded, should_stop=should_stop):
            results.append(result)
            yield result
        if should_stop is not None and should_stop():
            return
        pending = discover_after(store, results, settings=settings, robots=robots, should_stop=should_stop)


# --- alerts for new pages ------------------------------------------------------------------------


def is_new_page(source: Source) -> bool:
    """A page found by a discovery after the site's baseline."""
    return source.discovered_from_id is not None and discovery_info(source).get("baseline") is False


def alert_new_page(session: Session, source: Source, version: TextVersion, profile: Any) -> list[Alert]:
    """The alerts of a newly discovered page's first version (see the module docstring); nothing for
    baseline pages or pages added by hand."""
    from watcher.alerts import record_alerts
    from watcher.claims import ClaimProfile, Finding, compare
    from watcher.claims.compare import (
        NEW_INDICATION,
        SAFETY_CLAIM_ADDED,
        SUPERLATIVE_ADDED,
        TESTIMONIAL_ADDED,
        TRIAL_OR_MONITOR_RECRUITMENT,
    )

    if not is_new_page(source):
        return []
    site = session.get(Source, source.discovered_from_id) if source.discovered_from_id else None
    marker_kinds = {TRIAL_OR_MONITOR_RECRUITMENT, TESTIMONIAL_ADDED, SUPERLATIVE_ADDED, SAFETY_CLAIM_ADDED}
    markers = [f for f in compare(ClaimProfile(language=profile.language), profile) if f.kind in marker_kinds]
    claims = {key: {"strength": claim.strength, "treatments": list(claim.treatments),
                    "evidence": list(claim.evidence[:3])}
              for key, claim in sorted(profile.indications.items()) if claim.strength >= 1}
    strongest = max((c["strength"] for c in claims.values()), default=0)
    severity = "high" if strongest >= 3 or any(m.severity == "high" for m in markers) else (
        "medium" if claims or markers else "low")
    title = version.title or source.url
    summary = f"new page 「{title}」"
    if claims:
        summary += ": claims " + ", ".join(f"{key} ({_strength_word(c['strength'])})" for key, c in claims.items())
    if markers:
        summary += "; " + ", ".join(sorted({m.kind for m in markers}))
    page = Finding(NEW_PAGE, severity, after=summary)  # the evidence sentences are in details["indications"]
    created = record_alerts(session, [page], old=None, new=version, details={
        "scope": "page", "url": source.url, "title": version.title, "discovered_from": site.url if site else None,
        "indications": claims, "treatments": list(profile.treatments),
        "markers": [{"kind": m.kind, "group": m.group, "text": m.after} for m in markers],
        "references": len(profile.references)})
    created += record_alerts(session, markers, old=None, new=version)
    clinic_findings = []
    claimed_before, named_before = _clinic_claims_before(session, source)
    for key, claim in sorted(profile.indications.items()):
        if claim.strength < 1 or key in claimed_before:
            continue
        clinic_findings.append(Finding(
            NEW_INDICATION, "high" if claim.strength >= 2 else "medium", indication=key,
            strength_before=0 if key in named_before else None, strength_after=claim.strength,
            before=named_before.get(key) or None, after=claim.evidence[0], treatments=claim.treatments))
    clinic = source.clinic.name if source.clinic else None
    created += record_alerts(session, clinic_findings, old=None, new=version, scope="clinic", details={
        "clinic": clinic, "first_seen_url": source.url, "first_seen_title": version.title,
        "discovered_from": site.url if site else None})
    for alert in created:
        log.info("alert %s %s on new page %s%s", alert.kind, alert.indication or "", source.url,
                 " (clinic level)" if alert.details.get("scope") == "clinic" else "")
    return created


def _strength_word(strength: int) -> str:
    from watcher.alerts import STRENGTH_WORDS

    return STRENGTH_WORDS.get(strength, str(strength))


def _clinic_claims_before(session: Session, source: Source) -> tuple[set[str], dict[str, str]]:
    """Indications the other pages of the source's clinic (or, without a clinic, of its site) ever
    claimed, and those they only named (excluded or mentioned), with a sentence that names them."""
    from watcher.claims import ANALYSER_VERSION

    peers = select(Source.id).where(Source.id != source.id, Source.kind == "page")
    if source.clinic_id is not None:
        peers = peers.where(Source.clinic_id == source.clinic_id)
    else:
        peers = peers.where(Source.discovered_from_id == source.discovered_from_id)
    rows = session.execute(select(ClaimProfileRecord.indications, ClaimProfileRecord.profile)
                           .where(ClaimProfileRecord.source_id.in_(peers),
                                  ClaimProfileRecord.analyser_version == ANALYSER_VERSION)).all()
    claimed: set[str] = set()
    named: dict[str, str] = {}
    for indications, profile in rows:
        claimed.update(key for key, strength in (indications or {}).items() if int(strength) >= 1)
        for key, sentences in (profile.get("excluded") or {}).items():
            if sentences:
                named.setdefault(key, str(sentences[0]))
        for key in profile.get("mentioned") or ():
            named.setdefault(key, "")
    return claimed, {key: text for key, text in named.items() if key not in claimed}
