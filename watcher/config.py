"""The one typed settings object, read from ``WATCHER_*`` environment variables.

Every setting is documented in README.md (a test checks that each field here appears there).
``load_settings`` validates everything at start-up and raises ``ConfigError`` with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from watcher.errors import ConfigError

T = TypeVar("T")

PREFIX = "WATCHER_"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "watcher"


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _parse_seconds(raw: str) -> float:
    value = float(raw)
    if value < 0 or value != value:  # NaN check
        raise ValueError("expected a number of seconds >= 0")
    return value


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("expected a whole number >= 1")
    return value


def _parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


def _parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def _env(name: str, parse: Callable[[str], T], default: T, environ: Mapping[str, str]) -> T:
    raw = environ.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as error:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is invalid: {error}") from None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Validated settings. Field names are the variable names without ``WATCHER_``, lower-cased."""

    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str = ""
    log_level: str = "INFO"
    # Fetching
    contact: str = ""
    user_agent: str = ""
    download_delay: float = 2.0
    download_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    retry_times: int = 2
    retry_backoff: float = 2.0
    autothrottle: bool = True
    concurrent_requests: int = 8
    obey_robots: bool = True
    allow_private_addresses: bool = False
    # Diffs
    diff_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'watcher.db'}")

    @property
    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        from watcher import __version__

        contact = f"; contact: {self.contact}" if self.contact else ""
        return f"watcher/{__version__} (medical-claim change monitor; polite, honours robots.txt{contact})"

    def as_env(self) -> dict[str, str]:
        """The settings as WATCHER_* variables, to hand to a subprocess (the crawl)."""
        out: dict[str, str] = {}
        for item in fields(self):
            value: Any = getattr(self, item.name)
            if isinstance(value, bool):
                value = "1" if value else "0"
            out[PREFIX + item.name.upper()] = str(value)
        return out


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = _env("DATA_DIR", lambda raw: Path(raw).expanduser(), _default_data_dir(), env)
    database_url = _env("DATABASE_URL", _parse_database_url, "", env)
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        log_level=_env("LOG_LEVEL", _parse_log_level, "INFO", env),
        contact=_env("CONTACT", str.strip, "", env),
        user_agent=_env("USER_AGENT", str.strip, "", env),
        download_delay=_env("DOWNLOAD_DELAY", _parse_seconds, 2.0, env),
        download_timeout=_env("DOWNLOAD_TIMEOUT", _parse_seconds, 30.0, env),
        max_body_bytes=_env("MAX_BODY_BYTES", _parse_positive_int, 10 * 1024 * 1024, env),
        retry_times=_env("RETRY_TIMES", _parse_non_negative_int, 2, env),
        retry_backoff=_env("RETRY_BACKOFF", _parse_seconds, 2.0, env),
        autothrottle=_env("AUTOTHROTTLE", _parse_bool, True, env),
        concurrent_requests=_env("CONCURRENT_REQUESTS", _parse_positive_int, 8, env),
        obey_robots=_env("OBEY_ROBOTS", _parse_bool, True, env),
        allow_private_addresses=_env("ALLOW_PRIVATE_ADDRESSES", _parse_bool, False, env),
        diff_timeout=_env("DIFF_TIMEOUT", _parse_seconds, 2.0, env),
    )


def _parse_database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ValueError("expected a SQLAlchemy URL such as sqlite:///path or postgresql://host/db") from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValueError("only sqlite and postgresql databases are supported")
    return raw.strip()
