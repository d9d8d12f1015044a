"""Throttling of failed logins: the dashboard's token login and the API's bearer token share one.

Failures are counted in a sliding window of ``WATCHER_LOGIN_WINDOW`` seconds, per client address and
over all clients. A client with ``WATCHER_LOGIN_MAX_FAILURES`` failures in the window, or everyone
once ``WATCHER_LOGIN_MAX_FAILURES_GLOBAL`` failures are in it (a guess spread over many addresses),
is refused without the token being looked at — HTTP 429 with ``Retry-After`` — until the oldest
failure leaves the window. So a brute force gets a handful of guesses per window, whatever its rate.
A successful login clears its client's failures. Every failure is logged (a warning naming the
client), and so is the moment a client, or everyone, starts being refused.

The client is the connection's peer address, which behind a reverse proxy is the proxy's unless
uvicorn is told to trust its ``X-Forwarded-For`` (``--forwarded-allow-ips``): then the throttle is
per real client. State is in memory, per process: a restart forgets it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque

from starlette.requests import Request

from watcher.config import Settings

log = logging.getLogger(__name__)

MAX_TRACKED_CLIENTS = 10_000  # beyond this, the clients with the oldest failures are forgotten


class LoginThrottle:
    def __init__(self, *, per_client: int, overall: int, window: float) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            per_client=settings.login_max_failures,
            overall=settings.login_max_failures_global,
            window=settings.login_window,
        )

    def retry_after(self, client: str) -> int | None:
        """Whole seconds ``client`` must wait before its next try, or None when it may try now."""
        now = time.monotonic()
        with self._lock:
            self._expire(self._all, now)
            waits = []
            if len(self._all) >= self.overall:
                waits.append(self._all[-self.overall] + self.window - now)
            failures = self._clients.get(client)
            if failures is not None:
                self._expire(failures, now)
                if len(failures) >= self.per_client:
                    waits.append(failures[-self.per_client] + self.window - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def failed(self, client: str, *, where: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._clients.pop(client, None) or deque()
            self._expire(failures, now)
            failures.append(now)
            self._clients[client] = failures  # most recently failed last
            while len(self._clients) > MAX_TRACKED_CLIENTS:
                self._clients.popitem(last=False)
            self._expire(self._all, now)
            self._all.append(now)
            mine, everyone = len(failures), len(self._all)
        log.warning(
            "failed login from %s (%s): %d failure(s) from it and %d in all in the last %g s",
            client,
            where,
            mine,
            everyone,
            self.window,
        )
        if mine == self.per_client:
            log.warning(
                "login throttled for %s: %d failures in %g s; further tries refused (429) for now",
                client,
                mine,
                self.window,
            )
        if everyone == self.overall:
            log.warning("login throttled for everyone: %d failures from all clients in %g s", everyone, self.window)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()


class LoginThrottled(Exception):
    """Too many failed logins: answered 429 with ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after} s")
        self.retry_after = retry_after


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_CREATING = threading.Lock()


def throttle_of(request: Request) -> LoginThrottle:
    """The app's throttle (``create_app`` makes it; an app assembled otherwise gets one here)."""
    state = request.app.state
    with _CREATING:
        throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
        if throttle is None:
            throttle = state.login_throttle = LoginThrottle.from_settings(state.settings)
    return throttle


def check_not_throttled(request: Request) -> None:
    """Raise ``LoginThrottled`` when this client (or everyone) must wait before trying a token."""
    wait = throttle_of(request).retry_after(client_of(request))
    if wait is not None:
        raise LoginThrottled(wait)
