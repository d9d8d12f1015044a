"""Failed logins are throttled per client and over all clients, with Retry-After, on the dashboard's
login and the API's bearer token alike; they are logged; the right token does not get through a
throttle; the throttle lifts when the window has passed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from waiting import wait_for

from watcher.config import Settings, load_settings
from watcher.web.app import create_app
from watcher.web.throttle import LoginThrottle

TOKEN = "the-team-token"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WINDOW = 300.0  # long enough that no failure leaves the window during a test, however slow the machine


def make_app(tmp_path: Path, *, window: float = WINDOW) -> FastAPI:
    settings: Settings = replace(
        load_settings({}),
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        api_token=TOKEN,
        login_max_failures=3,
        login_max_failures_global=5,
        login_window=window,
    )
    return create_app(settings)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = make_app(tmp_path)
    yield application
    application.state.store.dispose()


def client_from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000), follow_redirects=False)


def dashboard_login(client: TestClient, token: str):  # type: ignore[no-untyped-def]
    csrf = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"author": "Sato", "token": token, "csrf_token": csrf})


def api_write(client: TestClient, token: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/sources", json={"url": "https://clinic.example.org/"}, headers={"Authorization": f"Bearer {token}"}
    )


def test_dashboard_login_is_throttled_per_client(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="watcher.web.throttle")
    with client_from(app, "192.0.2.1") as attacker, client_from(app, "192.0.2.2") as colleague:
        for _ in range(3):
            assert dashboard_login(attacker, "guess").status_code == 403
        throttled = dashboard_login(attacker, TOKEN)  # even the right token: it is not even compared
        assert throttled.status_code == 429 and "Too many failed logins" in throttled.text
        assert 1 <= int(throttled.headers["Retry-After"]) <= WINDOW
        assert dashboard_login(colleague, TOKEN).status_code == 303, "another client is not throttled"
        messages = [record.getMessage() for record in caplog.records]
        assert sum("failed login from 192.0.2.1 (dashboard login)" in m for m in messages) == 3
        assert any("login throttled for 192.0.2.1" in m for m in messages)


def test_the_throttle_lifts_when_the_window_has_passed(tmp_path: Path) -> None:
    app = make_app(tmp_path, window=1.0)
    throttle: LoginThrottle = app.state.login_throttle
    try:
        with client_from(app, "192.0.2.1") as client:
            for _ in range(3):
                assert dashboard_login(client, "guess").status_code in (403, 429)
            wait_for(lambda: throttle.retry_after("192.0.2.1") is None, timeout=60, what="the login window to pass")
            assert dashboard_login(client, TOKEN).status_code == 303
    finally:
        app.state.store.dispose()


def test_api_token_is_throttled_with_retry_after(app: FastAPI) -> None:
    with client_from(app, "198.51.100.7") as client:
        assert [api_write(client, f"wrong-{n}").status_code for n in range(3)] == [403, 403, 403]
        for token in ("wrong-again", TOKEN):
            refused = api_write(client, token)
            assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
            assert refused.json()["detail"].startswith("too many failed logins: try again in")
        assert client.get("/api/sources").status_code == 200, "open reads are not affected"


def test_failures_from_many_clients_throttle_everyone(app: FastAPI) -> None:
    clients = [client_from(app, f"203.0.113.{n}") for n in range(1, 4)]
    with clients[0] as first, clients[1] as second, clients[2] as third:
        assert [api_write(first, "a").status_code, api_write(first, "b").status_code] == [403, 403]
        assert [dashboard_login(second, "c").status_code, dashboard_login(second, "d").status_code] == [403, 403]
        assert api_write(third, "e").status_code == 403  # the fifth failure in the window, in all
        assert api_write(third, TOKEN).status_code == 429
        assert dashboard_login(first, TOKEN).status_code == 429


def test_a_successful_login_clears_its_clients_failures(app: FastAPI) -> None:
    with client_from(app, "192.0.2.9") as client:
        assert [api_write(client, "typo").status_code for _ in range(2)] == [403, 403]
        assert api_write(client, TOKEN).status_code == 201
        assert [api_write(client, "typo").status_code for _ in range(2)] == [403, 403], "the count started again"


def test_retry_after_counts_from_the_oldest_failure_in_the_window() -> None:
    throttle = LoginThrottle(per_client=2, overall=100, window=300.0)
    assert throttle.retry_after("x") is None
    throttle.failed("x", where="test")
    assert throttle.retry_after("x") is None
    throttle.failed("x", where="test")
    wait = throttle.retry_after("x")
    assert wait is not None and 295 <= wait <= 300
    assert throttle.retry_after("y") is None
