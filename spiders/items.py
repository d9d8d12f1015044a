"""What the spider yields: a ``watcher.capture.Capture`` per target, from a response or a failure.

The body stays raw bytes exactly as received (after transfer decompression): decoding is the
extractor's job, which has the bytes, the headers and the meta tags to decide the charset.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as tx_error
from twisted.web.client import ResponseFailed

from spiders.handlers import STARTED_META, RenderFailed, RenderTimeout
from spiders.middlewares import RefusedRequest, RobotsDisallowed
from watcher.capture import Capture, FetchTarget, one_line

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

TARGET_META = "watcher_target"
RENDER_META = "watcher_render"  # the RenderJob of a target fetched through the browser


# Checked in this order against the exception and each exception it was raised from: Scrapy wraps
# some Twisted errors in its own classes (raised "from" the original) and lets others through.
_KINDS: list[tuple[str, tuple[type[BaseException], ...]]] = [
    ("refused_address", (RefusedRequest,)),
    ("robots", (RobotsDisallowed,)),
    ("render_timeout", (RenderTimeout,)),
    ("render_failed", (RenderFailed,)),
    ("timeout", (DownloadTimeoutError, tx_error.TimeoutError)),
    ("dns", (CannotResolveHostError, tx_error.DNSLookupError)),
    # Before "connection": a failed handshake also shows up as the connection it lost.
    ("tls", (SSL.Error, tx_error.CertificateError)),
    (
        "connection",
        (
            DownloadConnectionRefusedError,
            ResponseDataLossError,
            tx_error.ConnectError,
            tx_error.ConnectionLost,
            tx_error.ConnectionDone,
        ),
    ),
    # Scrapy cancels a download for one reason in a crawl that runs to its end: the body outgrew
    # DOWNLOAD_MAXSIZE (announced by Content-Length, or while streaming, then without a message).
    ("too_large", (DownloadCancelledError,)),
]


def target_of(request: Request) -> FetchTarget:
    target = request.meta[TARGET_META]
    assert isinstance(target, FetchTarget)
    return target


def capture_from_response(response: Response, *, fetched_at: datetime | None = None) -> Capture:
    request = response.request
    assert request is not None
    target = target_of(request)
    # The stored lists as they are: Headers.items() would normalise each name again to look it up.
    # Names and values are bytes in a Headers: decoded inline (a call to _text each cost 3 calls).
    headers = {
        (name.decode("latin-1") if type(name) is bytes else _text(name)): [
            value.decode("latin-1") if type(value) is bytes else _text(value) for value in values
        ]
        for name, values in dict.items(response.headers)
    }
    return Capture(
        source_id=target.source_id,
        requested_url=target.url,
        final_url=response.url,
        fetched_at=fetched_at or datetime.now(UTC),
        duration_ms=_elapsed_ms(request),
        status=response.status,
        headers=headers,
        body=bytes(response.body),
        redirects=list(request.meta.get("redirect_urls", [])),
    )


def capture_from_failure(error: BaseException, request: Request, *, max_body_bytes: int) -> Capture:
    target = target_of(request)
    kind, message = classify(error, request=request)
    if kind == "too_large" and not str(error):
        message = f"response body larger than {max_body_bytes} bytes"
    return Capture(
        source_id=target.source_id,
        requested_url=target.url,
        final_url=request.url,
        fetched_at=datetime.now(UTC),
        duration_ms=_elapsed_ms(request),
        redirects=list(request.meta.get("redirect_urls", [])),
        error_kind=kind,
        error=message,
    )


def capture_for_bad_target(target: FetchTarget, error: BaseException) -> Capture:
    """A target Scrapy cannot even build a request for (a malformed URL)."""
    return Capture.failed(target, kind="other", error=f"invalid URL: {error}")


def classify(error: BaseException, *, request: Request | None = None) -> tuple[str, str]:
    """The Capture ``error_kind`` and a one-line message for a download failure."""
    message = one_line(str(error) or type(error).__name__)
    chain = list(_causes(error))
    for kind, classes in _KINDS:
        if any(isinstance(link, classes) for link in chain):
            return kind, message
    lowered = message.lower()
    if "download_maxsize" in lowered:  # HttpCompressionMiddleware: too large once decompressed
        return "too_large", message
    if isinstance(error, IgnoreRequest) and ("redirection" in lowered or _redirects_exhausted(request)):
        return "too_many_redirects", message
    return "other", f"{type(error).__name__}: {message}"


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, ResponseFailed):
            # Twisted keeps the real reasons (a TLS error, a lost connection) as Failures.
            for reason in current.reasons or []:
                value = getattr(reason, "value", None)
                if isinstance(value, BaseException):
                    yield value
        current = current.__cause__


def _redirects_exhausted(request: Request | None) -> bool:
    # RedirectMiddleware counts the hops left in "redirect_ttl"; it gives up when that reaches 0.
    if request is None:
        return False
    return bool(request.meta.get("redirect_times")) and request.meta.get("redirect_ttl") == 0


def _elapsed_ms(request: Request) -> int:
    started = request.meta.get(STARTED_META)
    return 0 if started is None else max(0, round((time.monotonic() - float(started)) * 1000))


def _text(value: Any) -> str:
    # HTTP header bytes are ISO-8859-1 by definition (RFC 9110); this round-trips any byte.
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
