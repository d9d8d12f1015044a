"""Shared fixtures: real databases (SQLite file and a throw-away PostgreSQL database per test),
settings for fetching from the project's own local server, and a CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.netguard import LOOPBACK_NETWORKS

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("WATCHER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _postgres_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available at {POSTGRES_ADMIN_URL}: {reason}")


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"watcher_test_{uuid.uuid4().hex[:12]}"
    try:
        with _admin_connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        _postgres_unavailable(str(error).strip().splitlines()[0])
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs on both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'watcher.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for fetching from our own loopback server: no delays, quick retries."""
    return replace(
        load_settings({}),
        data_dir=tmp_path,
        database_url=database_url,
        allowed_networks=LOOPBACK_NETWORKS,
        download_delay=0.0,
        retry_backoff=0.05,
        download_timeout=60.0,
        autothrottle=False,
    )


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the CLI sees in tests: the settings above as WATCHER_* variables."""
    env = settings.as_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):  # type: ignore[no-untyped-def]
        import json

        return json.loads(self.out)


@pytest.fixture
def run_cli(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``watcher ARGS`` in-process with the test settings; returns code, stdout, stderr."""
    from watcher.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# --- figures of the fault-injection suite (tests/test_faults.py), printed after the run -----------

FAULT_FIGURES = pytest.StashKey[list[dict[str, object]]]()


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> list[dict[str, object]]:
    """Where a fault scenario appends its figures (one dict per scenario)."""
    return request.config.stash.setdefault(FAULT_FIGURES, [])


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    figures = config.stash.get(FAULT_FIGURES, [])
    if not figures:
        return
    columns = ["scenario", "faults", "survived", "rows", "lost", "duplicates", "service"]
    terminalreporter.section("fault injection: figures")
    terminalreporter.write_line("| " + " | ".join(columns) + " |")
    terminalreporter.write_line("|" + "---|" * len(columns))
    for row in figures:
        terminalreporter.write_line("| " + " | ".join(str(row.get(column, "")) for column in columns) + " |")
