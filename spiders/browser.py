"""Rendering in a headless browser: scrapy-playwright driving the system's Chromium, for targets that
ask for it (sources added with ``--render`` or ``--screenshot``). Only loaded when a crawl has such a
target: a crawl without one starts no browser and imports none of this.

The page itself is requested through Scrapy like any other (address guard, robots.txt, the site's
download slot and delay); the browser then fetches its sub-resources, scripts' fetch/XHR calls and
redirects on its own. Every one of those goes through ``GuardProxy``, a small forwarding proxy in
this process that Chromium is started behind (loopback included, ``<-loopback>``): it resolves the
host, applies the address guard to the addresses and connects to the checked address itself, so
no DNS answer can change between the check and the connection, and it cuts responses over the size
limit. Non-public addresses, where allowed at all (``WATCHER_ALLOWED_NETWORKS``), are allowed only
for the hosts of the crawl's own rendered targets: a page's script cannot reach any other one.

A page that hangs or a browser that crashes becomes a failed capture (``render_timeout`` /
``render_failed``), the browser is restarted, and so it is after ``WATCHER_BROWSER_MAX_PAGES`` pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.exceptions import DownloadCancelledError
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod

from spiders.handlers import STARTED_META, RenderFailed, RenderTimeout
from spiders.items import RENDER_META
from watcher.capture import Capture, FetchTarget
from watcher.errors import RefusedAddressError
from watcher.netguard import IPAddress, Network, check_address, parse_ip, parse_networks

if TYPE_CHECKING:
    from playwright.async_api import Page
    from playwright.async_api import Response as BrowserResponse
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

log = logging.getLogger(__name__)

# The flags Chromium needs on a closed network: no background connections of its own (updates,
# sync, field trials), no QUIC (the proxy speaks TCP). Playwright adds --headless and a new, empty
# --user-data-dir of its own for every launch.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Nor the calls home that those leave (sign-in, component and variations checks, pings): the guard
    # proxy would let them through to public hosts.
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,SigninInterceptBubble",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-pings",
    "--no-service-autorun",
    "--password-store=basic",
    "--use-mock-keychain",
)
# Chromium's own service hosts, which it calls whatever the flags above say (update checks, sign-in):
# no page needs them, and a monitor must not report to them. Refused quietly.
BROWSER_SERVICE_HOSTS = frozenset(
    {
        "accounts.google.com",
        "clients2.google.com",
        "clients2.googleusercontent.com",
        "clientservices.googleapis.com",
        "update.googleapis.com",
        "optimizationguide-pa.googleapis.com",
        "safebrowsing.googleapis.com",
        "content-autofill.googleapis.com",
        "redirector.gvt1.com",
    }
)
VIEWPORT = {"width": 1280, "height": 900}
# After the load event, how long scripts may keep the network busy before the page is taken as it is.
SETTLE_SECONDS = 5.0
BROWSER_CLOSE_SECONDS = 10.0
_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


def browser_settings(
    *, browser_path: str, render_timeout: float, proxy: socket.socket, max_pages: int, hosts: list[str]
) -> dict[str, Any]:
    """The Scrapy settings that put the rendering handler in place of the HTTP one; ``proxy`` is the
    guard proxy's listening socket (``reserve_proxy_socket``), ``hosts`` those of the rendered targets."""
    proxy_port = proxy.getsockname()[1]
    proxy_fd = proxy.detach()  # the handler's socket takes it over
    return {
        "DOWNLOAD_HANDLERS": {
            "http": "spiders.browser.RenderingDownloadHandler",
            "https": "spiders.browser.RenderingDownloadHandler",
        },
        # Rendered crawls keep asyncio's own loop (scrapy-playwright and the guard proxy run on it).
        "ASYNCIO_EVENT_LOOP": None,
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": browser_path,
            "headless": True,
            "args": [
                *CHROMIUM_ARGS,
                f"--proxy-server=http://127.0.0.1:{proxy_port}",
                # Chromium sends loopback hosts past a proxy unless told not to; they must be guarded too.
                "--proxy-bypass-list=<-loopback>",
            ],
            "timeout": render_timeout * 1000,
        },
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": render_timeout * 1000,
        "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": "scrapy_playwright.headers.use_scrapy_headers",
        "WATCHER_RENDER_TIMEOUT": render_timeout,
        "WATCHER_BROWSER_MAX_PAGES": max_pages,
        "WATCHER_PROXY_FD": proxy_fd,
        "WATCHER_RENDER_HOSTS": hosts,
    }


def reserve_proxy_socket() -> socket.socket:
    """The proxy's listening socket, bound now so that its port can go into the launch options."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class RenderJob:
    """One target's rendering: the page methods scrapy-playwright runs after navigation, and what they
    leave for the capture (the server's own bytes for a screenshot-only target, the PNG)."""

    def __init__(self, target: FetchTarget, *, screenshot_max_height: int, settle_seconds: float) -> None:
        self.target = target
        self.screenshot_max_height = screenshot_max_height
        self.settle_seconds = settle_seconds
        self.document: BrowserResponse | None = None
        self.raw_body: bytes | None = None
        self.png = b""

    def meta(self) -> dict[str, Any]:
        return {
            "playwright": True,
            "playwright_context": "watcher",
            "playwright_context_kwargs": {"viewport": VIEWPORT, "service_workers": "block", "accept_downloads": False},
            "playwright_page_init_callback": self.attach,
            "playwright_page_methods": [PageMethod(self.settle), PageMethod(self.shoot)],
            RENDER_META: self,
        }

    async def attach(self, page: Page, request: Request) -> None:
        page.on("response", self._on_response)

    def _on_response(self, response: BrowserResponse) -> None:
        if response.request.is_navigation_request() and response.frame == response.frame.page.main_frame:
            self.document = response

    async def settle(self, page: Page) -> None:
        with contextlib.suppress(PlaywrightTimeoutError):
            await page.wait_for_load_state("networkidle", timeout=self.settle_seconds * 1000)
        if not self.target.render and self.document is not None:
            self.raw_body = await self.document.body()

    async def shoot(self, page: Page) -> None:
        height = int(
            await page.evaluate(
                "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
            )
        )
        if height > self.screenshot_max_height:
            self.png = await page.screenshot(
                full_page=True,
                type="png",
                clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": self.screenshot_max_height},
            )
        else:
            self.png = await page.screenshot(full_page=True, type="png")

    def finish(self, capture: Capture) -> Capture:
        """The capture of the rendered page: the DOM (``--render``) or the server's bytes, and the PNG."""
        if self.target.render:
            return replace(capture, rendered=True, screenshot=self.png)
        return replace(capture, body=self.raw_body if self.raw_body is not None else capture.body, screenshot=self.png)


class RenderingDownloadHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """scrapy-playwright's handler, timed like ``TimedHTTP11DownloadHandler``, with the guard proxy,
    a time limit per page, the size limit on the rendered page, and browser restarts."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.render_timeout = settings.getfloat("WATCHER_RENDER_TIMEOUT")
        self.max_pages = settings.getint("WATCHER_BROWSER_MAX_PAGES")
        self.max_bytes = settings.getint("DOWNLOAD_MAXSIZE")
        self.proxy = GuardProxy(
            sock=socket.socket(fileno=settings.getint("WATCHER_PROXY_FD")),
            allowed=parse_networks(settings.get("WATCHER_ALLOWED_NETWORKS") or ""),
            private_hosts=frozenset(settings.getlist("WATCHER_RENDER_HOSTS")),
            max_bytes=self.max_bytes,
            timeout=settings.getfloat("DOWNLOAD_TIMEOUT"),
        )
        self._active = 0
        self._rendered_since_launch = 0

    async def download_request(self, request: Request) -> Response:
        request.meta.setdefault(STARTED_META, time.monotonic())
        if not request.meta.get("playwright"):
            response: Response = await super().download_request(request)
            return response
        await self.proxy.start()
        self._active += 1
        try:
            response = await asyncio.wait_for(super().download_request(request), self.render_timeout)
        except TimeoutError:
            await self.restart_browser("a page did not finish rendering in time")
            raise RenderTimeout(f"rendering took longer than {self.render_timeout:g} s") from None
        except PlaywrightError as error:
            if not self._browser_alive():
                await self.restart_browser("the browser went away")
            raise RenderFailed(f"rendering failed: {error.message}") from error
        finally:
            self._active -= 1
            self._rendered_since_launch += 1
        if self._rendered_since_launch >= self.max_pages and self._active == 0:
            await self.restart_browser(f"{self._rendered_since_launch} pages rendered")
        if len(response.body) > self.max_bytes:
            raise DownloadCancelledError(f"rendered page larger than {self.max_bytes} bytes")
        return response

    def _browser_alive(self) -> bool:
        browser = getattr(self, "browser", None)
        return browser is not None and bool(browser.is_connected())

    async def restart_browser(self, why: str) -> None:
        """Close the browser (a new one is launched for the next page)."""
        browser = getattr(self, "browser", None)
        self._rendered_since_launch = 0
        if browser is None:
            return
        log.info("restarting the browser: %s", why)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser.close(), BROWSER_CLOSE_SECONDS)
        # The disconnected callback forgets the browser; if it never came, forget it here.
        if getattr(self, "browser", None) is browser:
            del self.browser
            self.context_wrappers.clear()

    async def _close(self) -> None:
        await super()._close()
        await self.proxy.stop()


class _ServiceHost(Exception):
    """A request of the browser's own to one of ``BROWSER_SERVICE_HOSTS``."""


class GuardProxy:
    """An HTTP forward proxy (plain requests and CONNECT tunnels) that applies the address guard."""

    def __init__(
        self,
        *,
        sock: socket.socket,
        allowed: tuple[Network, ...],
        private_hosts: frozenset[str],
        max_bytes: int,
        timeout: float,
    ) -> None:
        self.sock = sock
        self.allowed = allowed
        self.private_hosts = private_hosts
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._server: asyncio.Server | None = None
        self.refused: list[str] = []

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, sock=self.sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def address_for(self, host: str, port: int) -> IPAddress:
        """The checked address to connect to for ``host``; ``RefusedAddressError`` if any is refused."""
        if host.lower() in BROWSER_SERVICE_HOSTS:
            raise _ServiceHost(host)
        literal = parse_ip(host.strip("[]"))
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as error:
                raise RefusedAddressError(f"cannot resolve {host}: {error}") from None
            addresses = [a for a in (parse_ip(str(info[4][0]).split("%", 1)[0]) for info in infos) if a is not None]
        if not addresses:
            raise RefusedAddressError(f"refused {host}: no usable address")
        # The allowed non-public networks open only to the hosts of the crawl's own rendered sources.
        allowed = self.allowed if host.lower() in self.private_hosts else ()
        for address in addresses:
            check_address(host, address, allowed=allowed)
        return addresses[0]

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(client_reader.readuntil(b"\r\n\r\n"), self.timeout)
            if len(head) > _HEAD_LIMIT:
                return
            await self._forward(head, client_reader, client_writer)
        except _ServiceHost:
            with contextlib.suppress(OSError):
                client_writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await client_writer.drain()
        except RefusedAddressError as error:
            self.refused.append(str(error))
            log.warning("browser request %s", error)
            with contextlib.suppress(OSError):
                client_writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await client_writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                client_writer.close()

    async def _forward(
        self, head: bytes, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port = int(port_text)
            address = await self.address_for(host, port)
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(str(address), port), self.timeout
            )
            client_writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await client_writer.drain()
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                raise RefusedAddressError(f"refused {target[:200]}: not an http URL")
            port = parts.port or 80
            address = await self.address_for(parts.hostname, port)
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(str(address), port), self.timeout
            )
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            # One request per connection: the response ends when the server closes.
            headers = [
                line
                for line in rest.split(b"\r\n")
                if line and not line.lower().startswith((b"proxy-connection:", b"connection:", b"keep-alive:"))
            ]
            upstream_writer.write(
                b"\r\n".join([f"{method} {path} {version}".encode("latin-1"), *headers, b"Connection: close", b"", b""])
            )
            await upstream_writer.drain()
        uploading = asyncio.ensure_future(self._pipe(client_reader, upstream_writer, limit=None))
        try:
            # The exchange is over when the server is done (or the response outgrew the limit).
            await self._pipe(upstream_reader, client_writer, limit=self.max_bytes, what=target)
        finally:
            uploading.cancel()
            with contextlib.suppress(OSError):
                upstream_writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, limit: int | None, what: str = ""
    ) -> None:
        sent = 0
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(_CHUNK), self.timeout)
                if not chunk:
                    break
                sent += len(chunk)
                if limit is not None and sent > limit:
                    log.warning("browser response from %s cut at %d bytes", what[:200], limit)
                    break
                writer.write(chunk)
                await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            with contextlib.suppress(OSError):
                if writer.can_write_eof():
                    writer.write_eof()
                else:
                    writer.close()
