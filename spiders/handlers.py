"""The HTTP(S) download handler, timed: ``duration_ms`` starts when a target's first transfer does.

It also puts two cheaper equivalents in place of per-request work in Scrapy's and Twisted's HTTP/1.1
client (``install_fast_paths``): the same results, without redoing identical work at every request.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers import http11
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Headers
from twisted.web.http_headers import Headers as TxHeaders
from twisted.web.iweb import UNKNOWN_LENGTH

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.web.client import Response as TxResponse

STARTED_META = "watcher_started"
# Host names whose IDNA forms are kept (a crawl watches a few hundred sites; each form is a few bytes).
IDNA_CACHE_SIZE = 4096

log = logging.getLogger(__name__)


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

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        install_fast_paths()

    async def download_request(self, request: Request) -> Response:
        request.meta.setdefault(STARTED_META, time.monotonic())
        return await super().download_request(request)


def install_fast_paths() -> None:
    """Put the cheaper equivalents in place, once per process (later calls change nothing).

    - Twisted converts the host of every connection it makes to and from its IDNA form (about 175
      Python calls for "127.0.0.1" or "clinic.example", through the ``idna`` package and Scrapy's
      fallbacks): the conversions are pure functions of the host, so they are cached. A host that
      fails to convert raises as before (``lru_cache`` keeps no exception).
    - Scrapy's HTTP/1.1 agent builds each response's ``Headers`` twice (for the headers_received
      signal, then for the response), normalising every name and value one call at a time (about
      120 calls each): ``response_headers`` builds the same mapping directly.
    - Twisted's Agent copies each request's headers to add its Host, and ``Headers.copy`` encoded
      and sanitised every name and value again (about 7 calls each), though a ``Headers`` only ever
      holds them encoded and sanitised: ``copy_headers`` copies the lists as they are.

    Both replace private names of Scrapy and Twisted: a release that moved or renamed one leaves that
    path as it is (logged once), so an upgrade costs speed, never the crawl.
    """
    try:
        # Scrapy's IDNA fallbacks first (its handler installs them, but only over Twisted's originals):
        # the cache then keeps them, whichever ran first.
        from scrapy.core.downloader._idna_patch import _install_twisted_idna_fallbacks
        from twisted.internet import _resolver, _sslverify, endpoints
    except ImportError as error:
        log.info("crawl: IDNA conversions not cached (%s)", error)
    else:
        _install_twisted_idna_fallbacks()
        for module in (endpoints, _resolver, _sslverify):
            for name in ("_idnaBytes", "_idnaText"):
                function = getattr(module, name, None)
                if function is not None and not hasattr(function, "cache_info"):
                    setattr(module, name, _cached(function))
    if "_rawHeaders" in getattr(TxHeaders, "__slots__", ()) and callable(getattr(TxHeaders, "copy", None)):
        TxHeaders.copy = copy_headers  # type: ignore[method-assign,assignment]
    else:
        log.info("crawl: Twisted's request headers copied its own way (no Headers._rawHeaders)")
    install_header_paths()
    agent = getattr(http11, "_ScrapyAgent", None)
    if agent is None or not hasattr(agent, "_headers_from_twisted_response"):
        log.info("crawl: Scrapy's response headers built its own way (no _ScrapyAgent hook)")
        return
    agent._headers_from_twisted_response = staticmethod(response_headers)


# Scrapy's own Headers methods, before install_header_paths (tests compare the two).
SCRAPY_HEADERS_METHODS = {name: getattr(Headers, name, None) for name in ("normkey", "items", "update", "_tobytes")}
_SCRAPY_UPDATE = Headers.update


def install_header_paths() -> bool:
    """Scrapy's ``Headers`` normalise a name at every lookup and copy one ``Headers`` into another
    (each request into Twisted's, each response's into the Response) name by name and value by value,
    about a tenth of the crawl child's calls per request: ``header_key``, ``header_items`` and
    ``update_headers`` give the same results with fewer calls. Only over Scrapy's methods as this
    module knows them (``SCRAPY_HEADERS_METHODS``); True when in place."""
    if Headers.normkey is header_key:
        return True
    if any(method is None for method in SCRAPY_HEADERS_METHODS.values()) or Headers.__bases__ != (dict,):
        log.info("crawl: Scrapy's Headers normalised their own way (not the methods this module replaces)")
        return False
    Headers.normkey = header_key  # type: ignore[method-assign]
    Headers.items = header_items  # type: ignore[method-assign]
    Headers.update = update_headers  # type: ignore[method-assign]
    return True


def header_key(self: Headers, key: str | bytes) -> bytes:
    """``Headers.normkey``: the name's ``title()`` as bytes (str names in the headers' encoding); other
    types go through Scrapy's ``_tobytes`` (an int, or its TypeError)."""
    kind = type(key)
    if kind is bytes:
        return key.title()  # type: ignore[return-value]
    if kind is str:
        return key.title().encode(self.encoding)  # type: ignore[union-attr]
    return self._tobytes(key.title())


def header_items(self: Headers) -> Iterator[tuple[bytes, list[bytes]]]:
    """``Headers.items``: each stored name with its stored list of values. Scrapy's looks each name up
    again through ``getlist``, which normalises it; a stored name is normalised already (``title()``
    gives it back unchanged), so that finds the same list."""
    return iter(dict.items(self))


def update_headers(self: Headers, seq: Any) -> None:
    """``Headers.update``: from another ``Headers`` its names as they are (normalised already) and a new
    list of the same values (Scrapy's normalised each value to the same bytes); anything else as
    Scrapy's."""
    if isinstance(seq, Headers):
        dict.update(self, {name: list(values) for name, values in dict.items(seq)})
        return
    _SCRAPY_UPDATE(self, seq)


def _cached(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return functools.lru_cache(maxsize=IDNA_CACHE_SIZE)(function)


def copy_headers(headers: TxHeaders) -> TxHeaders:
    """What Twisted's ``Headers.copy`` returns (the same class, the same names, new lists of the same
    values), without encoding and sanitising each name and value again: every way into a ``Headers``
    (its constructor, ``setRawHeaders``, ``addRawHeader``) stores them encoded and sanitised already."""
    copy = headers.__class__()
    copy._rawHeaders = {name: list(values) for name, values in headers._rawHeaders.items()}
    return copy


def response_headers(response: TxResponse) -> Headers:
    """What ``_ScrapyAgent._headers_from_twisted_response`` returns, built without its per-item calls.

    Twisted's raw headers are already bytes, one list per name: Scrapy's normal form of a name is its
    ``title()`` (as in ``Headers.normkey``), and lists of bytes are kept as they are. A Content-Length
    from the parsed length comes first and the raw headers' own, if any, replace it, as in
    ``Headers.update``.
    """
    headers = Headers()
    if response.length != UNKNOWN_LENGTH:
        dict.__setitem__(headers, b"Content-Length", [str(response.length).encode()])
    merged: dict[bytes, list[bytes]] = {}
    for name, values in response.headers.getAllRawHeaders():
        merged.setdefault(name.title(), []).extend(values)
    dict.update(headers, merged)
    return headers
