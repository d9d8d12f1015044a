"""Scrapy settings, flat and polite, derived from watcher's one ``Settings`` object."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any
from urllib.request import getproxies

from watcher.config import Settings
from watcher.crawl import HEARTBEAT_SECONDS

# AutoThrottle only. Left out, as nothing reads what they keep: CoreStats, LogCount and LogStats (the
# stats collector is a dummy, below), CloseSpider (no CLOSESPIDER_* limit is set).
EXTENSIONS_BASE = {
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
FAST_EVENT_LOOP = "uvloop.Loop" if find_spec("uvloop") is not None else None

# With no download delay configured AutoThrottle still needs a start delay; a small one keeps a fast
# local crawl fast, and AutoThrottle raises it as soon as a site answers slowly.
MIN_AUTOTHROTTLE_START_DELAY = 0.25
# Longest Retry-After we wait for; a server asking for more gets its answer recorded, not retried.
RETRY_AFTER_CAP_SECONDS = 120.0
RETRY_HTTP_CODES = [408, 429, 500, 502, 503, 504]
REDIRECT_MAX_TIMES = 10


def robots_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("watcher" for "watcher/0.1 (...)")."""
    return user_agent.split("/", 1)[0].split(None, 1)[0] if user_agent.strip() else "watcher"


def scrapy_settings(settings: Settings, *, capture_fd: int) -> dict[str, Any]:
    """The complete Scrapy configuration for one crawl; ``capture_fd`` receives the Capture lines."""
    return {
        "BOT_NAME": "watcher",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        # uvloop's event loop under the reactor (where installed: Linux and macOS, a dependency there):
        # the loop's scheduling and timers in C, about 450 fewer Python calls per request in the child.
        "ASYNCIO_EVENT_LOOP": FAST_EVENT_LOOP,
        # The address guard resolves through this (caching, IPv4) resolver, so the address it checks
        # is the one the connection uses; do not swap it without revisiting AddressGuardMiddleware.
        "TWISTED_DNS_RESOLVER": "scrapy.resolver.CachingThreadedResolver",
        # Twisted's HTTP/1.1 client connects through the resolver above (httpx/aiohttp would not).
        "DOWNLOAD_HANDLERS": {
            "http": "spiders.handlers.TimedHTTP11DownloadHandler",
            "https": "spiders.handlers.TimedHTTP11DownloadHandler",
        },
        # Politeness
        "USER_AGENT": settings.effective_user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "ROBOTSTXT_USER_AGENT": robots_token(settings.effective_user_agent),
        "CONCURRENT_REQUESTS": settings.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        # Scrapy's downloader, counting a request against its site as it leaves the queue (spiders.downloader).
        "DOWNLOADER": "spiders.downloader.PacedDownloader",
        "DOWNLOAD_DELAY": settings.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50 % (replaces RANDOMIZE_DOWNLOAD_DELAY in Scrapy 2.19)
        "AUTOTHROTTLE_ENABLED": settings.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(settings.download_delay, MIN_AUTOTHROTTLE_START_DELAY),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        # Limits
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.max_body_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "URLLENGTH_LIMIT": 0,  # a registered source is fetched whatever its length
        # Redirects: followed and recorded; a meta refresh is page content, not a redirect to follow
        # (a self-refreshing page would otherwise loop until REDIRECT_MAX_TIMES).
        "REDIRECT_ENABLED": True,
        "REDIRECT_MAX_TIMES": REDIRECT_MAX_TIMES,
        "METAREFRESH_ENABLED": False,
        # Error statuses are captures (with status and body), not exceptions (HttpErrorMiddleware is
        # off below, which is the same; this stays in case a setting turns it back on).
        "HTTPERROR_ALLOW_ALL": True,
        # Retries: transient failures only, with exponential backoff (BackoffRetryMiddleware).
        "RETRY_ENABLED": True,
        "RETRY_TIMES": settings.retry_times,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",  # the capture records the outcome; no ERROR line needed
        "WATCHER_RETRY_BACKOFF": settings.retry_backoff,
        "WATCHER_RETRY_AFTER_CAP": RETRY_AFTER_CAP_SECONDS,
        "WATCHER_ALLOWED_NETWORKS": ",".join(str(network) for network in settings.fetch_networks),
        "WATCHER_SCREENSHOT_MAX_HEIGHT": settings.screenshot_max_height,
        # Every fetch is fresh and stateless: no cache, no cookie jar.
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
        # Proxies come only from the environment (http_proxy, https_proxy, no_proxy): with none set,
        # the proxy middleware had nothing to do at each request.
        "HTTPPROXY_ENABLED": bool(getproxies()),
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy >= 2.19 would open a code-execution HTTP port
        "DOWNLOADER_MIDDLEWARES": {
            "spiders.middlewares.RetryDelayMiddleware": 5,
            "spiders.middlewares.AddressGuardMiddleware": 10,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "spiders.middlewares.RobotsMiddleware": 100,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "spiders.middlewares.BackoffRetryMiddleware": 550,
            # One middleware for the default headers and the User-Agent (RequestHeadersMiddleware).
            "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": None,
            "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
            "spiders.middlewares.RequestHeadersMiddleware": 400,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "spiders.middlewares.RefererRedirectMiddleware": 600,
            # Ran on every request and response for nothing watcher uses: the spider has no
            # allowed_domains (the address guard above is the fence), no HTTP auth, and nothing reads
            # the downloader's byte and status counters.
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        # Spider middlewares wrap every callback's output in asynchronous generators; the spider's
        # callbacks return nothing (they write their Capture, spiders.pipelines) and never yield a request,
        # so there are none. Depth counting and the detection of response.meta copied into new requests had
        # nothing to act on, HttpError is off as all statuses pass (above), the start requests carry
        # is_start_request themselves (ClinicPagesSpider.request_for), which is all StartSpiderMiddleware
        # did, and the Referer of each redirect hop comes from RefererRedirectMiddleware's own
        # RefererMiddleware, which Scrapy's RedirectMiddleware looked for among these.
        "SPIDER_MIDDLEWARES_BASE": {},
        "LOG_FORMATTER": "spiders.extensions.QuietLogFormatter",
        # No items (the callbacks write their Capture), yet Scrapy still starts this many asyncio tasks per
        # response to process a callback's output: its default of 100 cost a third of the child's CPU.
        "CONCURRENT_ITEMS": 1,
        # Scrapy checks each callback for a generator returning a value by parsing its source; its cache
        # is keyed on the bound method, new for every request, so it parsed ClinicPagesSpider.parse's
        # source once per response. Its callbacks return no value.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # UnheardSignals: a signal nothing listens to is not sent (six or seven per request, most unheard).
        # LeanMachinery: with no spider middleware each response goes straight to its callback, and the
        # downloader middlewares' results are awaited only when awaitable (spiders.machinery).
        "EXTENSIONS": {
            "spiders.extensions.Heartbeat": 100,
            "spiders.extensions.UnheardSignals": 0,
            "spiders.machinery.LeanMachinery": 0,
        },
        # Every middleware and the engine count into the stats at each request; nothing reads them.
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        # Scrapy imports every extension of its base list even when a setting turns it off (and even when
        # EXTENSIONS maps it to None): the base list keeps only those watcher uses, so the child does not
        # load Twisted's telnet stack or aiohttp at every start.
        "EXTENSIONS_BASE": EXTENSIONS_BASE,
        "WATCHER_CAPTURE_FD": capture_fd,
        "WATCHER_HEARTBEAT_SECONDS": HEARTBEAT_SECONDS,
        # Logging goes to stderr in a fixed format that watcher.crawl parses for the level.
        "LOG_LEVEL": settings.log_level,
        "LOG_FORMAT": "%(levelname)s %(name)s: %(message)s",
        "LOG_STDOUT": False,
    }
