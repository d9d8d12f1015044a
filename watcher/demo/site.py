"""A real local HTTP server for the demo, the tests and the benchmarks: a site whose pages change.

``VersionedSite`` serves a directory in which a page is a folder of dated versions::

    <root>/clinic-a/blog/exosome/1.html     served at /clinic-a/blog/exosome/ from round 1
    <root>/clinic-a/blog/exosome/3.html     ... and this one from round 3 on
    <root>/clinic-a/news/2.html             /clinic-a/news/ is a 404 in round 1, appears in round 2
    <root>/about.html                       static, served at /about.html in every round
    <root>/robots.txt                       served if present, else a permissive default

A version file named ``<n>.sjis.html`` / ``<n>.eucjp.html`` is sent as its raw bytes with charset
shift_jis / euc-jp, ``<n>.nocharset.html`` as plain ``text/html``; anything else as utf-8.
``{{csrf_token}}``, ``{{visitor_count}}`` and ``{{served_at}}`` are replaced on every request, so a
test can prove that such noise makes no new snapshot. ETag (of the file before substitution) and
Last-Modified are sent, and conditional requests are answered with 304, as a well-behaved CMS does.

Tests add behaviour with ``site.route(path, handler)`` (500s, redirects, slow or huge responses,
Retry-After, flapping) and read ``site.hits``, ``site.requests`` and ``site.max_concurrency``.
Requests for absolute URLs (``GET http://host/path``) are served by path too, so the site can stand
in as an HTTP proxy for "public" hosts.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

from watcher.httpdates import parse_http_date

log = logging.getLogger(__name__)

Body = bytes | Iterable[bytes]
RouteResult = tuple[int, Mapping[str, str], Body]


@dataclass(frozen=True)
class RequestInfo:
    """What a route handler (and ``site.requests``) sees of one request."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    round: int
    received_at: float  # time.monotonic(), for tests that measure backoff between attempts

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


Handler = Callable[[RequestInfo], RouteResult]

DEFAULT_ROBOTS = b"User-agent: *\nAllow: /\n"
_VERSION_FILE = re.compile(r"^(?P<n>\d+)(?:\.(?P<variant>sjis|eucjp|nocharset))?\.html$")
_CONTENT_TYPES = {
    None: "text/html; charset=utf-8",
    "sjis": "text/html; charset=shift_jis",
    "eucjp": "text/html; charset=euc-jp",
    "nocharset": "text/html",
}
# Versioned pages get a Last-Modified derived from the version number, not from the file's mtime:
# fixture files are written in the same second, and a later version must still look newer.
_VERSION_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Page:
    content: bytes
    content_type: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'


class VersionedSite(ThreadingHTTPServer):
    """The local site. Use as ``with VersionedSite(root=...) as site:``; bound on 127.0.0.1 to an
    ephemeral port as soon as it is constructed, serving from a background thread once entered."""

    # http.server's default backlog of 5 drops connections under a concurrent crawl or benchmark.
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, root: Path | None = None, *, round: int = 1, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _RequestHandler)
        self.root = root
        self.round = round
        self.hits: Counter[str] = Counter()
        self.requests: list[RequestInfo] = []
        # Most requests being answered at once (handlers overlapping), per Host header and in all.
        self.max_concurrency: Counter[str] = Counter()
        self.max_total_concurrency = 0
        self._routes: dict[str, Handler] = {}
        self._in_flight: Counter[str] = Counter()
        self._visitors = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"VersionedSite:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The absolute URL of ``path``; ``host`` (e.g. "localhost") reaches the same server under
        another name, which Scrapy treats as another site."""
        name = host or str(self.server_address[0])
        return f"http://{name}:{self.port}/{path.lstrip('/')}"

    # -- test hooks ------------------------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> None:
        """Serve ``path`` (exact, without query) from ``handler`` instead of the directory."""
        self._routes[path] = handler

    def unroute(self, path: str) -> None:
        self._routes.pop(path, None)

    def reset_counters(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()
            self.max_concurrency.clear()
            self.max_total_concurrency = 0

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being served (a slow handler may outlive its client)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight.total() == 0:
                    return True
            time.sleep(0.01)
        return False

    def requests_to(self, path: str) -> list[RequestInfo]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------------------------

    def _enter(self, info: RequestInfo) -> str:
        host = info.header("Host") or ""
        with self._lock:
            self.hits[info.path] += 1
            self.requests.append(info)
            self._in_flight[host] += 1
            self.max_concurrency[host] = max(self.max_concurrency[host], self._in_flight[host])
            self.max_total_concurrency = max(self.max_total_concurrency, self._in_flight.total())
            self._visitors += 1
        return host

    def _leave(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] -= 1

    def respond(self, info: RequestInfo) -> RouteResult:
        handler = self._routes.get(info.path)
        if handler is not None:
            return handler(info)
        if self._is_folder_without_slash(info.path):
            # As web servers do: /page → /page/ (versioned pages live at their folder's URL).
            location = info.path + "/" + (f"?{info.query}" if info.query else "")
            return 301, {"Location": location, "Content-Type": "text/html; charset=utf-8"}, b""
        page = self._find_page(info.path)
        if page is None:
            if info.path == "/robots.txt":
                return 200, {"Content-Type": "text/plain; charset=utf-8"}, DEFAULT_ROBOTS
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<h1>404 Not Found</h1>"
        validators = {"ETag": page.etag, "Last-Modified": format_datetime(page.last_modified, usegmt=True)}
        if _not_modified(info, page):
            return 304, validators, b""
        headers = {"Content-Type": page.content_type, **validators}
        return 200, headers, self._fill_placeholders(page.content)

    def _local_path(self, url_path: str) -> Path | None:
        """The file or folder ``url_path`` names under the root; None outside it (``/../``)."""
        if self.root is None:
            return None
        root = self.root.resolve()
        target = (root / unquote(url_path).lstrip("/")).resolve()
        return target if target.is_relative_to(root) else None

    def _is_folder_without_slash(self, url_path: str) -> bool:
        target = self._local_path(url_path)
        return target is not None and target.is_dir() and not url_path.endswith("/")

    def _find_page(self, url_path: str) -> _Page | None:
        target = self._local_path(url_path)
        if target is None:
            return None
        if target.is_dir():
            version = self._current_version(target)
            if version is not None:
                return version
            target = target / "index.html"
        if not target.is_file():
            return None
        match = _VERSION_FILE.match(target.name)
        variant = match.group("variant") if match else _static_variant(target.name)
        content_type = _CONTENT_TYPES[variant] if target.suffix == ".html" else _guess_type(target)
        modified = datetime.fromtimestamp(int(target.stat().st_mtime), tz=UTC)
        return _Page(content=target.read_bytes(), content_type=content_type, last_modified=modified)

    def _current_version(self, folder: Path) -> _Page | None:
        best: tuple[int, Path, str | None] | None = None
        for candidate in folder.iterdir():
            match = _VERSION_FILE.match(candidate.name)
            if match is None or not candidate.is_file():
                continue
            number = int(match.group("n"))
            if number <= self.round and (best is None or number > best[0]):
                best = (number, candidate, match.group("variant"))
        if best is None:
            return None
        number, path, variant = best
        return _Page(
            content=path.read_bytes(),
            content_type=_CONTENT_TYPES[variant],
            last_modified=_VERSION_EPOCH + timedelta(days=number),
        )

    def _fill_placeholders(self, content: bytes) -> bytes:
        if b"{{" not in content:
            return content
        with self._lock:
            visitors = self._visitors
        # Placeholders are ASCII, so byte replacement is safe in utf-8, Shift_JIS and EUC-JP alike.
        return (
            content.replace(b"{{csrf_token}}", secrets.token_hex(16).encode())
            .replace(b"{{visitor_count}}", str(visitors).encode())
            .replace(b"{{served_at}}", datetime.now(UTC).isoformat(timespec="microseconds").encode())
        )

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out and hung up mid-response is routine in tests, not worth a traceback.
        log.debug("error while serving %s", client_address, exc_info=True)


def _static_variant(name: str) -> str | None:
    for variant in ("sjis", "eucjp", "nocharset"):
        if name.endswith(f".{variant}.html"):
            return variant
    return None


def _guess_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    kind = guessed or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def _not_modified(info: RequestInfo, page: _Page) -> bool:
    if_none_match = info.header("If-None-Match")
    if if_none_match is not None:
        # RFC 9110 §13.1.2: weak comparison; If-Modified-Since is ignored when If-None-Match is sent.
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or page.etag in tags
    if_modified_since = info.header("If-Modified-Since")
    if if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        return since is not None and page.last_modified <= since
    return False


class _RequestHandler(BaseHTTPRequestHandler):
    server: VersionedSite
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites do; every fixed body has a length
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's delayed ACK
    # stalls each keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        parts = urlsplit(self.path)
        info = RequestInfo(
            method=self.command,
            path=parts.path or "/",
            query=parts.query,
            headers=dict(self.headers.items()),
            round=self.server.round,
            received_at=time.monotonic(),
        )
        host = self.server._enter(info)
        try:
            status, headers, body = self.server.respond(info)
        finally:
            # Left before the response is written: a client may send its next request the moment
            # it has read this one, and that must not count as two requests at once.
            self.server._leave(host)
        self._send(status, headers, body, send_body=send_body)

    def _send(self, status: int, headers: Mapping[str, str], body: Body, *, send_body: bool) -> None:
        self.send_response(status)
        names = {name.lower() for name in headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if isinstance(body, bytes):
            if "content-length" not in names and status != 304 and not 100 <= status < 200:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and body:
                self.wfile.write(body)
            return
        # A streamed body has no length: the end of the connection marks its end (like HTTP/1.0).
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if send_body:
            for chunk in body:
                self.wfile.write(chunk)
                self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request on stderr drowns test and demo output
