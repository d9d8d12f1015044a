"""Web archives that speak the Wayback Machine's protocols: a page's captures, and their payloads.

An archive is named by its *base*, what precedes ``/TIMESTAMP/URL`` in its capture URLs
(``https://web.archive.org/web`` for the Internet Archive, ``http://host/COLLECTION`` for pywb).

Listing (``WebArchive.captures``): the CDX API with ``output=json`` and ``collapse=digest`` — pywb's
``BASE/cdx`` (newline-delimited JSON objects), then the Wayback CDX server's ``/cdx/search/cdx`` on
the archive's host (a JSON array of rows, the first naming the fields); when neither answers, the
Memento TimeMap ``BASE/timemap/link/URL`` (RFC 7089 link format, without digests). Not every archive
honours ``collapse`` (pywb ignores it), so adjacent captures with the same digest are collapsed here
as well: an unchanged page is fetched once per run of identical captures.

Payloads (``WebArchive.fetch``): ``BASE/TIMESTAMPid_/URL``, the capture as the site sent it,
without the archive's banner or link rewriting. A response that carries ``Memento-Datetime`` is an
archived response, whatever its status (an archived redirect or 404 is history too, and the quality
gate records it as such). A redirect without it is the archive's own navigation to the nearest
capture, followed within the archive's base; a 404 without it means the archive lists a capture it
cannot serve.

Politeness and safety: one request at a time, ``WATCHER_ARCHIVE_DELAY`` seconds apart; a 429 or
503 waits for its ``Retry-After`` (at most ``MAX_RETRY_AFTER``; longer means "come back later");
other transient failures are retried ``WATCHER_RETRY_TIMES`` times with ``WATCHER_RETRY_BACKOFF``
doubling. Every request passes the private-address guard of live fetches (``watcher.netguard``), and
the connection goes to the very address that was checked.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode, urljoin, urlsplit

from watcher.capture import Capture
from watcher.config import Settings
from watcher.errors import FetchError
from watcher.httpdates import parse_http_date, retry_after_seconds
from watcher.netguard import check_address, check_scheme_and_host, resolve

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 600.0  # seconds; an archive that asks for a longer pause is asked again another day
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ORIGINAL_PREFIX = "x-archive-orig-"
# What an archive adds to a replayed capture; the site's own versions come back as X-Archive-Orig-*.
_ARCHIVE_HEADERS = frozenset(
    {"memento-datetime", "link", "content-location", "date", "server", "connection", "keep-alive", "set-cookie"}
)
_TIMESTAMP = re.compile(r"^\d{14}$")
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[\w-]+\s*=\s*(?:\"[^\"]*\"|[^;,\s]*))*)")
_LINK_PARAM = re.compile(r";\s*([\w-]+)\s*=\s*(?:\"([^\"]*)\"|([^;,\s]*))")


@dataclass(frozen=True)
class ArchivedCapture:
    """One capture in an archive's index."""

    timestamp: str  # 14 digits, UTC
    original: str  # the URL as captured
    status: int | None = None
    digest: str | None = None
    mime: str | None = None

    @property
    def captured_at(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


@dataclass
class Listing:
    captures: list[ArchivedCapture] = field(default_factory=list)
    via: str = "cdx"  # cdx | timemap
    duplicates: int = 0  # adjacent captures with an unchanged digest, collapsed


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == wanted:
                return value
        return None


def timestamp_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _timestamp(raw: object) -> str | None:
    text = str(raw or "")
    return text if _TIMESTAMP.match(text) else None


def _status(raw: object) -> int | None:
    text = str(raw or "")
    return int(text) if text.isdigit() else None


def parse_cdx(body: bytes) -> list[ArchivedCapture] | None:
    """The captures of a CDX API answer in JSON (pywb's lines of objects, or the Wayback CDX
    server's array of rows); None when the body is neither (not a CDX endpoint)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        if text.startswith("["):
            rows = json.loads(text)
            if not rows:
                return []
            names = [str(name) for name in rows[0]]
            records = [dict(zip(names, row, strict=False)) for row in rows[1:]]
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, TypeError):
        return None
    captures: list[ArchivedCapture] = []
    for record in records:
        if not isinstance(record, dict):
            return None
        timestamp = _timestamp(record.get("timestamp"))
        original = record.get("url") or record.get("original")
        if timestamp is None or not original:
            continue
        captures.append(
            ArchivedCapture(
                timestamp=timestamp,
                original=str(original),
                status=_status(record.get("status", record.get("statuscode"))),
                digest=str(record["digest"]) if record.get("digest") else None,
                mime=str(record.get("mime") or record.get("mimetype") or "") or None,
            )
        )
    return captures


def parse_timemap(body: bytes, *, original: str) -> list[ArchivedCapture]:
    """The mementos of a link-format TimeMap (RFC 7089), as captures of ``original``."""
    captures: list[ArchivedCapture] = []
    for match in _LINK.finditer(body.decode("utf-8", "replace")):
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _LINK_PARAM.finditer(match.group(2))
        }
        if "memento" not in (params.get("rel") or "").split() or not params.get("datetime"):
            continue
        moment = parse_http_date(params["datetime"])
        if moment is None:
            continue
        captures.append(ArchivedCapture(timestamp=timestamp_of(moment), original=original))
    return captures


def collapse_digests(captures: list[ArchivedCapture]) -> tuple[list[ArchivedCapture], int]:
    """Oldest first, without the captures whose digest equals the previous one's."""
    kept: list[ArchivedCapture] = []
    dropped = 0
    for capture in sorted(captures, key=lambda c: c.timestamp):
        if kept and capture.digest is not None and capture.digest == kept[-1].digest:
            dropped += 1
            continue
        if kept and capture.timestamp == kept[-1].timestamp and capture.original == kept[-1].original:
            dropped += 1  # the same capture listed twice (an index over several files)
            continue
        kept.append(capture)
    return kept, dropped


def site_headers(answered: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The headers the site sent, from an archive's ``id_`` answer: ``X-Archive-Orig-*`` renamed
    back, the archive's own (``Memento-Datetime``, ``Link``, its ``Date``, ``X-Archive-*``…) dropped,
    and the encoding and length dropped (the body is stored decoded)."""
    headers: dict[str, list[str]] = {}
    for name, value in answered:
        lower = name.lower()
        if lower.startswith(_ORIGINAL_PREFIX):
            name, lower = name[len(_ORIGINAL_PREFIX) :], lower[len(_ORIGINAL_PREFIX) :]
        elif lower in _ARCHIVE_HEADERS or lower.startswith("x-archive-"):
            continue
        if lower not in ("content-encoding", "transfer-encoding", "content-length"):
            headers.setdefault(name, []).append(value)
    return headers


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the guard checked, not to a fresh DNS answer."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def decoded_body(body: bytes, encoding: str | None) -> bytes:
    coding = (encoding or "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompress(body)
    if coding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {coding!r}")


class WebArchive:
    """A Wayback-compatible archive at ``base`` (see the module doc), used politely by one caller."""

    def __init__(
        self,
        base: str,
        *,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base.rstrip("/")
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self._user_agent = settings.effective_user_agent
        self.requests = 0

    # --- URLs ---------------------------------------------------------------------------------

    def capture_url(self, capture: ArchivedCapture) -> str:
        """The archive's capture URL: the provenance recorded with a backfilled capture."""
        return f"{self.base}/{capture.timestamp}/{capture.original}"

    def payload_url(self, capture: ArchivedCapture) -> str:
        return f"{self.base}/{capture.timestamp}id_/{capture.original}"

    def _cdx_endpoints(self) -> list[str]:
        parts = urlsplit(self.base)
        server = f"{parts.scheme}://{parts.netloc}/cdx/search/cdx"
        own = f"{self.base}/cdx"
        # The Wayback Machine's base ends in /web, its CDX server lives at the host's root.
        return [server, own] if parts.path.rstrip("/").endswith("/web") else [own, server]

    # --- listing ------------------------------------------------------------------------------

    def captures(self, url: str, *, since: datetime | None = None, until: datetime | None = None) -> Listing:
        """The archive's captures of ``url`` in [since, until], oldest first, duplicates collapsed."""
        query: dict[str, str] = {"url": url, "output": "json", "collapse": "digest"}
        if since is not None:
            query["from"] = timestamp_of(since)
        if until is not None:
            query["to"] = timestamp_of(until)
        for endpoint in self._cdx_endpoints():
            response = self._get(f"{endpoint}?{urlencode(query)}")
            found = parse_cdx(response.body) if response.status == 200 else None
            if found is not None:
                kept, dropped = collapse_digests(self._within(found, since, until))
                return Listing(captures=kept, via="cdx", duplicates=dropped)
            log.info("no CDX API at %s (HTTP %s)", endpoint, response.status)
        response = self._get(f"{self.base}/timemap/link/{url}")
        if response.status == 404:
            return Listing(via="timemap")
        if response.status != 200:
            raise FetchError(
                f"archive {self.base} answers neither the CDX API nor a TimeMap (HTTP {response.status})",
                kind="archive",
                transient=response.status >= 500,
            )
        mementos = self._within(parse_timemap(response.body, original=url), since, until)
        kept, dropped = collapse_digests(mementos)
        return Listing(captures=kept, via="timemap", duplicates=dropped)

    @staticmethod
    def _within(
        captures: list[ArchivedCapture], since: datetime | None, until: datetime | None
    ) -> list[ArchivedCapture]:
        low = timestamp_of(since) if since is not None else "0" * 14
        high = timestamp_of(until) if until is not None else "9" * 14
        return [c for c in captures if low <= c.timestamp <= high]

    # --- payloads -----------------------------------------------------------------------------

    def fetch(self, capture: ArchivedCapture, *, source_id: int, requested_url: str) -> Capture | None:
        """The capture's original payload as a ``Capture`` (time: the archive's capture time), or
        None when the archive lists the capture but cannot serve it."""
        url = self.payload_url(capture)
        started = self._clock()
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._get(url)
            archived_at = response.header("Memento-Datetime")
            location = response.header("Location")
            if archived_at is None and 300 <= response.status < 400 and location:
                target = urljoin(url, location)
                if not target.startswith(self.base + "/"):
                    log.warning("archive redirected %s out of %s: %s", url, self.base, target)
                    return None
                url = target
                continue
            if archived_at is None and response.status >= 400:
                log.warning("archive cannot serve %s (HTTP %s)", url, response.status)
                return None
            return self._capture(
                capture,
                response,
                archived_at,
                source_id=source_id,
                requested_url=requested_url,
                duration_ms=int((self._clock() - started) * 1000),
            )
        log.warning("archive redirected %s more than %d times", self.payload_url(capture), MAX_REDIRECTS)
        return None

    def _capture(
        self,
        capture: ArchivedCapture,
        response: HttpResponse,
        archived_at: str | None,
        *,
        source_id: int,
        requested_url: str,
        duration_ms: int,
    ) -> Capture:
        # the capture served, which a redirect to the nearest one may have changed
        fetched_at = parse_http_date(archived_at) or capture.captured_at
        headers = site_headers(response.headers)
        error_kind = error = None
        body = response.body
        try:
            body = decoded_body(body, response.header("Content-Encoding"))
        except (ValueError, zlib.error) as problem:
            body, error_kind, error = b"", "other", f"undecodable archived body: {problem}"
        return Capture(
            source_id=source_id,
            requested_url=requested_url,
            final_url=capture.original,
            fetched_at=fetched_at,
            duration_ms=duration_ms,
            status=response.status,
            headers=headers,
            body=body,
            truncated=response.truncated,
            error_kind=error_kind,
            error=error,
            archive_url=self.capture_url(capture),
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def _get(self, url: str) -> HttpResponse:
        """GET with the delay, the guard and retries; the last answer, or FetchError when none came."""
        attempts = self._settings.retry_times + 1
        for attempt in range(1, attempts + 1):
            self._pause()
            try:
                response = self._request(url)
            except FetchError as error:
                if not error.transient or attempt == attempts:
                    raise
                wait = self._settings.retry_backoff * 2 ** (attempt - 1)
                log.info("archive request failed (%s), retrying in %.1f s", error, wait)
                self._sleep(wait)
                continue
            if response.status not in RETRY_STATUSES or attempt == attempts:
                if response.status in RETRY_STATUSES:
                    raise FetchError(
                        f"archive {self.base} keeps answering HTTP {response.status}: run again later to resume",
                        kind="archive",
                        transient=True,
                    )
                return response
            wait = retry_after_seconds(response.header("Retry-After"))
            if wait is None:
                wait = self._settings.retry_backoff * 2 ** (attempt - 1)
            if wait > MAX_RETRY_AFTER:
                raise FetchError(
                    f"archive {self.base} asks to wait {wait:.0f} s (HTTP {response.status}): "
                    "run again later to resume",
                    kind="archive",
                    transient=True,
                )
            log.info("archive answered HTTP %s, waiting %.1f s", response.status, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _pause(self) -> None:
        delay = self._settings.archive_delay
        if self._last_request is not None and delay > 0:
            remaining = self._last_request + delay - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last_request = self._clock()

    def _request(self, url: str) -> HttpResponse:
        self.requests += 1
        try:
            return guarded_get(url, settings=self._settings, user_agent=self._user_agent)
        except TimeoutError:
            raise FetchError(
                f"archive {self.base} did not answer within {self._settings.download_timeout:g} s "
                "(WATCHER_DOWNLOAD_TIMEOUT)",
                kind="timeout",
                transient=True,
            ) from None
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            raise FetchError(f"archive {self.base} unreachable: {reason}", kind="connection", transient=True) from None


def guarded_get(url: str, *, settings: Settings, user_agent: str) -> HttpResponse:
    """One GET through the private-address guard (``WATCHER_ALLOWED_NETWORKS``), connected to the very
    address that was checked, at most ``WATCHER_MAX_BODY_BYTES`` read (``truncated`` says when more
    came). A refused address raises ``RefusedAddressError``; the network's failures come as they are
    (``TimeoutError``, ``OSError``, ``http.client.HTTPException``) for the caller to word."""
    host = check_scheme_and_host(url)
    addresses = resolve(host)
    for address in addresses:
        check_address(host, address, allowed=settings.fetch_networks)
    parts = urlsplit(url)
    secure = parts.scheme.lower() == "https"
    kind = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    port = parts.port or (443 if secure else 80)
    connection = kind(host, port, address=str(addresses[0]), timeout=settings.download_timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    limit = settings.max_body_bytes
    try:
        connection.request(
            "GET", target, headers={"User-Agent": user_agent, "Accept-Encoding": "gzip", "Connection": "close"}
        )
        answer = connection.getresponse()
        body = answer.read(limit + 1)
        return HttpResponse(
            url=url,
            status=answer.status,
            headers=[(str(k), str(v)) for k, v in answer.getheaders()],
            body=body[:limit],
            truncated=len(body) > limit,
        )
    finally:
        connection.close()
