"""Links, pure: what URLs a sitemap, sitemap index, RSS/Atom feed or HTML page links to, which of
them are worth watching, and what robots.txt says about them. No database, no network: discovery
(``watcher.pipeline.discover``) fetches the documents and records what this module selects, and the
capture recorder (``watcher.pipeline.record``) compares a sitemap by the list of URLs read here.

- ``normalize_url``: a watchable http(s) URL, normalised (also what ``watcher.sources`` stores).
- ``parse_entry`` / ``parse_xml_links`` / ``html_links``: the links of an entry document, newest
  ``<lastmod>`` first for a sitemap; at most ``MAX_DOCUMENT_URLS`` read from one document; a
  malformed one raises ``DocumentError`` (its ``kind`` fits ``Check.error_kind``).
- ``candidate_urls``: same site (host with ``www.`` ignored, port), not excluded by
  ``DEFAULT_EXCLUDE`` or the source's patterns, matching its ``include`` patterns when given.
- ``robots_allows``: robots.txt rules as Scrapy's crawl applies them (Protego).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from protego import Protego

from watcher.config import Settings
from watcher.errors import InputError
from watcher.extract import decode_body

log = logging.getLogger(__name__)

MAX_DOCUMENT_URLS = 50_000  # the sitemap protocol's limit per file; links beyond it are ignored
MAX_URL_CHARS = 2048  # Source.url

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
    rb"<(?:[\w.-]+:)?(urlset|sitemapindex|rss|feed|RDF)\b",
    re.DOTALL,
)
_XML_END = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex|rss|feed|RDF)>\s*$")
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#")


class DocumentError(ValueError):
    """An entry document that cannot be read; ``kind`` fits Check.error_kind."""

    def __init__(self, message: str, *, kind: str = "bad_sitemap") -> None:
        super().__init__(message)
        self.kind = kind


class LinkPatterns(Protocol):
    """The regular expressions a site source filters its links with (``watcher.sources.SiteOptions``)."""

    @property
    def include(self) -> Sequence[str]: ...

    @property
    def exclude(self) -> Sequence[str]: ...


# --- URLs ----------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Validate an http(s) URL and normalise scheme/host case; the fragment is dropped."""
    text = url.strip()
    if not text or any(ch.isspace() for ch in text):
        raise InputError(f"invalid URL {url!r}: empty or contains spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InputError(f"invalid URL {url!r}: {error}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise InputError(f"invalid URL {url!r}: only http and https URLs can be watched")
    if not parts.hostname:
        raise InputError(f"invalid URL {url!r}: no host name")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        raise InputError(f"invalid URL {url!r}: credentials in URLs are not supported")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


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
    return str(etree.QName(tag).localname) if isinstance(tag, str) else ""


def _xml_root(data: bytes) -> Any:
    safe: dict[str, bool] = {
        "resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
        "remove_comments": True, "remove_pis": True,
    }  # fmt: skip
    strict = etree.XMLParser(**safe)
    try:
        return etree.fromstring(data, strict)
    except etree.XMLSyntaxError as error:
        problem = " ".join(str(error).split())[:200]
    # Hand-made sitemaps often hold a bare "&" in a URL; keep what a forgiving parse recovers, but
    # only from a document that ends with its root's end tag (a cut-off one is an error).
    if _XML_END.search(data[-512:]) is None:
        raise DocumentError(f"sitemap is not well-formed XML: {problem}")
    lenient = etree.XMLParser(**safe, recover=True)
    try:
        root = etree.fromstring(data, lenient)
    except etree.XMLSyntaxError:
        root = None
    if (
        root is None
        or _local(root.tag) not in {"urlset", "sitemapindex", "rss", "feed", "RDF"}
        or not any(_local(el.tag) in {"loc", "link"} for el in root.iter())
    ):
        raise DocumentError(f"sitemap is not well-formed XML: {problem}")
    log.warning(
        "sitemap has XML errors (%s); using the %s links that could be read",
        problem,
        sum(1 for el in root.iter() if _local(el.tag) in {"loc", "link"}),
    )
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


def _html_document(body: bytes, *, content_type: str | None, base_url: str) -> tuple[Any, str] | None:
    """The parsed page and the URL its relative links resolve against (``<base href>`` honoured)."""
    text = decode_body(body, content_type=content_type).text
    if not text.strip():
        return None
    try:
        document = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    base = base_url
    for element in document.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    return document, base


def html_links(body: bytes, *, content_type: str | None, base_url: str) -> list[str]:
    """Absolute URLs of the ``<a href>``/``<area href>`` links of an HTML page, in document order
    (``<base href>`` honoured; script, mail and phone links and in-page anchors skipped)."""
    parsed = _html_document(body, content_type=content_type, base_url=base_url)
    if parsed is None:
        return []
    document, base = parsed
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


# What a browser loads to show a page: (element, attribute), and the <link rel> values that are requisites.
_REQUISITE_ATTRIBUTES = (
    ("img", "src"),
    ("script", "src"),
    ("source", "src"),
    ("video", "poster"),
    ("input", "src"),
    ("embed", "src"),
)
_REQUISITE_RELS = frozenset({"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload"})


def requisite_urls(body: bytes, *, content_type: str | None, base_url: str, limit: int) -> list[str]:
    """Absolute http(s) URLs of a page's requisites — stylesheets and icons (``<link rel>``), images
    (``src`` and every ``srcset`` candidate), scripts, media posters — same-site or not, in document
    order, each once, at most ``limit``."""
    parsed = _html_document(body, content_type=content_type, base_url=base_url)
    if parsed is None:
        return []
    document, base = parsed
    found: list[str] = []
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        values: list[str] = []
        if tag == "link" and _REQUISITE_RELS & set((element.get("rel") or "").lower().split()):
            values.append(element.get("href") or "")
        values += [element.get(attribute) or "" for name, attribute in _REQUISITE_ATTRIBUTES if tag == name]
        if tag in ("img", "source") and element.get("srcset"):
            values += [candidate.strip().split(" ", 1)[0] for candidate in element.get("srcset").split(",")]
        for value in values:
            url = urljoin(base, value.strip()) if value.strip() else ""
            if urlsplit(url).scheme in ("http", "https") and url.split("#", 1)[0] not in found:
                found.append(url.split("#", 1)[0])
        if len(found) >= limit:
            return found[:limit]
    return found


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


def candidate_urls(
    urls: Iterable[str], *, site_urls: Sequence[str], options: LinkPatterns, skipped: Counter[str] | None = None
) -> list[str]:
    """The links worth adding, normalised and deduplicated, in order: same site, not excluded by
    default or by ``exclude``, matching ``include`` when given, not one of ``site_urls``."""
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
    rules = Protego.parse(robots_txt)
    allowed: list[str] = []
    disallowed: list[str] = []
    for url in urls:
        (allowed if rules.can_fetch(url, agent) else disallowed).append(url)
    return allowed, disallowed
