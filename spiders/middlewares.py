"""Downloader middlewares: backoff for retries, the address guard, robots.txt, and the retry policy.

Order (lower runs first on the way out): RetryDelay 5 → AddressGuard 10 → Robots 100 → … →
RequestHeaders 400 → BackoffRetry 550 → Redirect 600 → … → download. Redirected and retried requests
re-enter the whole chain, so a redirect target and a robots.txt fetch are guarded like a start URL,
and a retry waits out its backoff before anything else (even a DNS lookup that failed) is redone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Self

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured
from scrapy.http import Headers
from scrapy.spidermiddlewares.referer import RefererMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.error import DNSLookupError

from watcher.errors import RefusedAddressError
from watcher.httpdates import retry_after_seconds
from watcher.netguard import AddressChecker, IPAddress, Network, check_scheme_and_host, parse_ip, parse_networks

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

log = logging.getLogger(__name__)

BACKOFF_META = "watcher_backoff"


class RefusedRequest(IgnoreRequest):
    """The address guard refused the request (becomes error_kind "refused_address")."""


class RobotsDisallowed(IgnoreRequest):
    """robots.txt disallows the request (becomes error_kind "robots")."""


class AddressGuardMiddleware:
    """Refuse non-http(s) URLs and hosts that are or resolve to non-public addresses.

    The host is resolved through the reactor's caching resolver, the one the HTTP/1.1 handler
    connects through: the checked address is the cached address the connection then uses, which
    closes the DNS-rebinding gap a separate ``getaddrinfo`` check would leave open. (Through an
    HTTP proxy from ``http_proxy``, the proxy resolves again: that gap is the proxy's to close.)
    """

    def __init__(self, *, allowed: tuple[Network, ...] = (), limit: int = 4096) -> None:
        self.allowed = allowed
        self.limit = limit
        self._addresses = AddressChecker(allowed, limit=limit)
        # Each host and resolved address string parsed once (about 25 Python calls each time, and an
        # exception for every host name): the crawl asks about the same few hundred at every request.
        self._parsed: dict[str, IPAddress | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(allowed=parse_networks(crawler.settings.get("WATCHER_ALLOWED_NETWORKS") or ""))

    async def process_request(self, request: Request) -> None:
        try:
            # Scrapy's parse of the request's URL, cached for the request (its download slot key needed it).
            host = check_scheme_and_host(request.url, urlparse_cached(request))
            address = self._parse_ip(host)
            if address is None:
                address = self._parse_ip(await _resolve(host))
            if address is None:  # the resolver answers with a dotted quad; stay strict anyway
                raise RefusedAddressError(f"refused {host}: the resolver returned no usable address")
            self._addresses.check(host, address)
        except RefusedAddressError as error:
            raise RefusedRequest(str(error)) from error

    def _parse_ip(self, text: str) -> IPAddress | None:
        try:
            return self._parsed[text]
        except KeyError:
            if len(self._parsed) >= self.limit:
                self._parsed.clear()
            address = self._parsed[text] = parse_ip(text)
            return address


async def _resolve(host: str) -> str:
    from twisted.internet import reactor

    try:
        return str(await maybe_deferred_to_future(reactor.resolver.getHostByName(host)))
    except DNSLookupError as error:
        # The same error the download handler raises, so it is reported and retried alike.
        raise CannotResolveHostError(str(error)) from error


class RobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, raising a recognisable ``RobotsDisallowed``.

    (``spider`` stays in the overriding signatures only to match the base classes; Scrapy does not
    pass it to methods that do not require it.)
    """

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            await super().process_request(request)
        except RobotsDisallowed:
            raise
        except IgnoreRequest as error:
            # The only IgnoreRequest this middleware raises is "Forbidden by robots.txt".
            raise RobotsDisallowed(str(error)) from error


class RequestHeadersMiddleware:
    """Scrapy's default request headers and the User-Agent, on every request that has not set them.

    In place of Scrapy's DefaultHeadersMiddleware and UserAgentMiddleware (the same headers, in the
    same order, never replacing one a request carries): one middleware call instead of two, and the
    names normalised once here rather than three times per request. robots.txt fetches, retries and
    redirects get them too, as they did.
    """

    def __init__(self, headers: Mapping[str, str]) -> None:
        normal = Headers(headers)  # Scrapy's own normal form of each name and value
        self._headers: tuple[tuple[bytes, list[bytes]], ...] = tuple(dict.items(normal))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestHeadersMiddleware:
        settings = crawler.settings
        defaults = settings.getdict("DEFAULT_REQUEST_HEADERS")
        headers = {name: value for name, value in defaults.items() if value is not None}  # as Scrapy's
        if settings.get("USER_AGENT"):
            headers["User-Agent"] = settings["USER_AGENT"]
        return cls(headers)

    def process_request(self, request: Request) -> None:
        headers = request.headers
        for name, values in self._headers:
            if not dict.__contains__(headers, name):
                dict.__setitem__(headers, name, list(values))


class RefererRedirectMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, with the Referer of each hop set by a RefererMiddleware of its own.

    Scrapy's finds the RefererMiddleware among the spider middlewares (and warns at start-up when
    there is none); as a spider middleware it also wrapped every callback's output in asynchronous
    generators, for a spider that yields nothing (its callbacks write their Capture). Here it is only
    the policy object ``handle_referer`` asks, the override Scrapy documents for this: the same
    Referer on each hop (per ``REFERER_ENABLED``, ``REFERRER_POLICY``, ``REFERRER_POLICIES``), and no
    spider middleware at all (spiders.settings).
    """

    referer: RefererMiddleware | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler.settings)  # NotConfigured without REDIRECT_ENABLED, as Scrapy's
        middleware.crawler = crawler
        try:
            middleware.referer = RefererMiddleware.from_crawler(crawler)
        except NotConfigured:  # REFERER_ENABLED off: hops without a Referer, as Scrapy's without one
            middleware.referer = None
        return middleware

    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)
        if self.referer is not None:
            self.referer.get_processed_request(request, response)


class RetryDelayMiddleware:
    """Await the backoff a retry carries (``BACKOFF_META``) before it is processed any further.

    An await, not a sleep: the reactor, and other sites' downloads, keep running meanwhile, and the
    request only takes its place in the site's download slot once the wait is over.
    """

    async def process_request(self, request: Request) -> None:
        delay = float(request.meta.pop(BACKOFF_META, 0.0))
        if delay > 0:
            await asyncio.sleep(delay)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (transient statuses and network errors), spaced by exponential backoff.

    A retry is not re-sent at once: it carries its delay for ``RetryDelayMiddleware`` to await.
    Retry-After is honoured up to ``WATCHER_RETRY_AFTER_CAP``; a server asking for a longer wait
    gets its answer recorded rather than a premature retry. 404, 403 and refused addresses are
    never retried: only ``RETRY_HTTP_CODES`` and Scrapy's transient network errors are.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("WATCHER_RETRY_BACKOFF")
        self.retry_after_cap = settings.getfloat("WATCHER_RETRY_AFTER_CAP")

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None and retry_after > self.retry_after_cap:
            log.info(
                "Not retrying %s: Retry-After %.0f s exceeds the %.0f s cap", request, retry_after, self.retry_after_cap
            )
            return response
        retry = self._retry_later(request, response_status_message(response.status), retry_after)
        return retry or response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        return self._retry_later(request, exception, None)

    def _retry_later(self, request: Request, reason: str | Exception, retry_after: float | None) -> Request | None:
        assert self.crawler.spider is not None
        retry: Request | None = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if retry is not None:
            attempt = int(retry.meta.get("retry_times", 1))
            retry.meta[BACKOFF_META] = max(self.backoff * 2 ** (attempt - 1), retry_after or 0.0)
        return retry
