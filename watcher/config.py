"""The one typed settings object, read from ``WATCHER_*`` environment variables.

Every setting is documented in README.md (a test checks that each field here appears there).
``load_settings`` validates everything at start-up and raises ``ConfigError`` with one clear line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from watcher import __version__
from watcher.addresses import check_email
from watcher.errors import ConfigError, InputError
from watcher.netguard import ALL_NETWORKS, Network, parse_networks

T = TypeVar("T")

PREFIX = "WATCHER_"
EXECUTORS = ("local", "queue")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "watcher"


def _parse_data_dir(raw: str) -> Path:
    """A directory that exists, or can be made, and can be written: checked now so that a bad
    value is one line at start-up, not a traceback from the first database access."""
    path = Path(raw.strip()).expanduser()
    if not raw.strip():
        raise ValueError("expected a directory path")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        what = "is not a directory" if existing == path else f"cannot be made: {existing} is not a directory"
        raise ValueError(what)
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be made: {existing} is not writable"
        raise ValueError(what)
    return path


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


def _parse_render_timeout(raw: str) -> float:
    value = float(raw)
    if not 1 <= value <= 3600:  # also rejects NaN
        raise ValueError("expected a number of seconds between 1 and 3600")
    return value


def _parse_tick(raw: str) -> float:
    value = float(raw)
    if not 0.1 <= value <= 86400:  # also rejects NaN
        raise ValueError("expected a number of seconds between 0.1 and 86400")
    return value


def _parse_fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 0.5:  # also rejects NaN
        raise ValueError("expected a fraction between 0 and 0.5 (0.1 = ±10 %)")
    return value


def _parse_executor(raw: str) -> str:
    value = raw.strip().lower()
    if value not in EXECUTORS:
        raise ValueError("expected local or queue")
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
    allowed_networks: tuple[Network, ...] = ()  # non-public networks that may be fetched (and added)
    allow_private_addresses: bool = False  # legacy: every network (link-local and metadata excepted)
    # Backfill from web archives (watcher backfill): the Wayback-compatible base and the pause between requests
    archive_url: str = "https://web.archive.org/web"
    archive_delay: float = 3.0
    # Rendering (sources added with --render or --screenshot): the browser's executable, the time one
    # page may take in it, how many pages a browser renders before it is restarted, the tallest
    # screenshot (pixels; a taller page is cut there)
    browser_path: str = "/usr/bin/chromium"
    render_timeout: float = 60.0
    browser_max_pages: int = 50
    screenshot_max_height: int = 20000
    # Scheduler (watcher run): how often it looks for due sources, the random spread of each
    # source's interval, and how many due sources one crawl subprocess takes at most
    scheduler_tick: float = 60.0
    scheduler_jitter: float = 0.1
    scheduler_batch_size: int = 50
    scheduler_notify_interval: float = 60.0
    scheduler_digest_interval: float = 900.0
    # Executor: "local" (checks in the `watcher run` process) or "queue" (PostgreSQL only: `watcher run`
    # queues host batches that `watcher worker` processes run, see watcher.queue); the workers' jobs
    # at once, their heartbeat, and the silence after which a worker's jobs are retried elsewhere
    executor: str = "local"
    worker_concurrency: int = 1
    worker_heartbeat: float = 10.0
    worker_stalled: float = 60.0
    # Diffs
    diff_timeout: float = 2.0
    # JSON API (watcher serve): bearer token for writes (empty = writes disabled); reads need it too when required
    api_token: str = ""
    api_read_token_required: bool = False
    # Failed logins (dashboard login and API token) allowed per client and in all, per sliding window
    login_max_failures: int = 5
    login_max_failures_global: int = 50
    login_window: float = 300.0
    # E-mail alerts (empty smtp_host = e-mail disabled) and the public links in mails and feeds
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 30.0
    smtp_max_attempts: int = 12
    smtp_retry_backoff: float = 60.0
    mail_from: str = "watcher@localhost"
    public_url: str = "http://127.0.0.1:8000"
    digest_hour: int = 8

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'watcher.db'}")

    @property
    def fetch_networks(self) -> tuple[Network, ...]:
        """The non-public networks the crawl may fetch and sources may name (``watcher.netguard``)."""
        return ALL_NETWORKS if self.allow_private_addresses else self.allowed_networks

    @property
    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        contact = f"; contact: {self.contact}" if self.contact else ""
        return f"watcher/{__version__} (medical-claim change monitor; polite, honours robots.txt{contact})"

    def as_env(self, *, include_secrets: bool = True) -> dict[str, str]:
        """The settings as WATCHER_* variables, to hand to a subprocess. The crawl gets them without
        secrets (``SECRET_SETTINGS``): it fetches pages and needs no password, token or database."""
        out: dict[str, str] = {}
        for item in fields(self):
            if not include_secrets and item.name in SECRET_SETTINGS:
                continue
            value: Any = getattr(self, item.name)
            if isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, tuple):
                value = ",".join(str(item) for item in value)
            out[PREFIX + item.name.upper()] = str(value)
        return out


SECRET_SETTINGS = frozenset({"database_url", "smtp_password", "api_token"})


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = _env("DATA_DIR", _parse_data_dir, _default_data_dir(), env)
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
        allowed_networks=_env("ALLOWED_NETWORKS", parse_networks, (), env),
        allow_private_addresses=_env("ALLOW_PRIVATE_ADDRESSES", _parse_bool, False, env),
        archive_url=_env("ARCHIVE_URL", parse_archive_base, "https://web.archive.org/web", env),
        archive_delay=_env("ARCHIVE_DELAY", _parse_seconds, 3.0, env),
        browser_path=_env("BROWSER_PATH", str.strip, "/usr/bin/chromium", env),
        render_timeout=_env("RENDER_TIMEOUT", _parse_render_timeout, 60.0, env),
        browser_max_pages=_env("BROWSER_MAX_PAGES", _parse_positive_int, 50, env),
        screenshot_max_height=_env("SCREENSHOT_MAX_HEIGHT", _parse_positive_int, 20000, env),
        diff_timeout=_env("DIFF_TIMEOUT", _parse_seconds, 2.0, env),
        scheduler_tick=_env("SCHEDULER_TICK", _parse_tick, 60.0, env),
        scheduler_jitter=_env("SCHEDULER_JITTER", _parse_fraction, 0.1, env),
        scheduler_batch_size=_env("SCHEDULER_BATCH_SIZE", _parse_positive_int, 50, env),
        scheduler_notify_interval=_env("SCHEDULER_NOTIFY_INTERVAL", _parse_tick, 60.0, env),
        scheduler_digest_interval=_env("SCHEDULER_DIGEST_INTERVAL", _parse_tick, 900.0, env),
        api_token=_env("API_TOKEN", str.strip, "", env),
        api_read_token_required=_env("API_READ_TOKEN_REQUIRED", _parse_bool, False, env),
        login_max_failures=_env("LOGIN_MAX_FAILURES", _parse_positive_int, 5, env),
        login_max_failures_global=_env("LOGIN_MAX_FAILURES_GLOBAL", _parse_positive_int, 50, env),
        login_window=_env("LOGIN_WINDOW", _parse_tick, 300.0, env),
        **_worker_settings(env),
        **_mail_settings(env),
    )


def check_executor(settings: Settings) -> Settings:
    """The queue executor needs PostgreSQL (checked by the commands; the crawl child, which gets no
    database URL, does not check it)."""
    if settings.executor == "queue" and not settings.database_url.startswith("postgresql"):
        raise ConfigError(
            f"{PREFIX}EXECUTOR=queue needs PostgreSQL: set {PREFIX}DATABASE_URL=postgresql://… (workers on "
            "several machines share one database); the embedded SQLite store runs with the local executor"
        )
    return settings


def _worker_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The executor and the queue's workers (``watcher worker``), with the check between the two times."""
    values: dict[str, Any] = {
        "executor": _env("EXECUTOR", _parse_executor, "local", env),
        "worker_concurrency": _env("WORKER_CONCURRENCY", _parse_positive_int, 1, env),
        "worker_heartbeat": _env("WORKER_HEARTBEAT", _parse_tick, 10.0, env),
        "worker_stalled": _env("WORKER_STALLED", _parse_tick, 60.0, env),
    }
    if values["worker_stalled"] <= 2 * values["worker_heartbeat"]:
        raise ConfigError(
            f"{PREFIX}WORKER_STALLED={values['worker_stalled']:g} must be more than twice "
            f"{PREFIX}WORKER_HEARTBEAT={values['worker_heartbeat']:g}: a live worker would look dead between heartbeats"
        )
    return values


# A SQLAlchemy URL, ``dialect[+driver]://[user[:password]@][host][:port][/database][?query]``, read
# with the grammar of sqlalchemy.engine.make_url but without importing SQLAlchemy: settings are
# loaded by every command, ``watcher compare`` (which never opens the database) included.
_DATABASE_URL = re.compile(
    r"^(?P<name>[\w+]+)://"
    r"(?:(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?"
)


def _parse_database_url(raw: str) -> str:
    match = _DATABASE_URL.match(raw.strip())
    if match is None:
        raise ValueError("expected a SQLAlchemy URL such as sqlite:///path or postgresql://host/db")
    if match.group("name").split("+", 1)[0] not in {"sqlite", "postgresql"}:
        raise ValueError("only sqlite and postgresql databases are supported")
    if match.group("port"):
        int(match.group("port"))  # a ValueError, as make_url raises for a port that is not a number
    return raw.strip()


def _parse_port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("expected a TCP port between 1 and 65535")
    return value


def _parse_hour(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 23:
        raise ValueError("expected an hour of the day (UTC) between 0 and 23")
    return value


def _parse_host(raw: str) -> str:
    value = raw.strip()
    if any(ch.isspace() or ch in "/@" for ch in value):
        raise ValueError("expected a host name or IP address")
    return value


def parse_archive_base(raw: str) -> str:
    """A Wayback-compatible base: what precedes ``/TIMESTAMP/URL`` in the archive's capture URLs."""
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("expected an http(s) base such as https://web.archive.org/web")
    return value


def _parse_mail_from(raw: str) -> str:
    _name, address = parseaddr(raw.strip())
    try:
        check_email(address, single_label_domain=True)
    except InputError as error:
        raise ValueError(str(error)) from None
    return raw.strip()


def _parse_public_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("expected an http(s) base URL such as https://watcher.example.org")
    return value


def _mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The e-mail settings, with the checks that involve more than one variable."""
    values: dict[str, Any] = {
        "smtp_host": _env("SMTP_HOST", _parse_host, "", env),
        "smtp_port": _env("SMTP_PORT", _parse_port, 25, env),
        "smtp_user": _env("SMTP_USER", str.strip, "", env),
        "smtp_password": _env("SMTP_PASSWORD", str, "", env),
        "smtp_starttls": _env("SMTP_STARTTLS", _parse_bool, False, env),
        "smtp_ssl": _env("SMTP_SSL", _parse_bool, False, env),
        "smtp_timeout": _env("SMTP_TIMEOUT", _parse_seconds, 30.0, env),
        "smtp_max_attempts": _env("SMTP_MAX_ATTEMPTS", _parse_positive_int, 12, env),
        "smtp_retry_backoff": _env("SMTP_RETRY_BACKOFF", _parse_seconds, 60.0, env),
        "mail_from": _env("MAIL_FROM", _parse_mail_from, "watcher@localhost", env),
        "public_url": _env("PUBLIC_URL", _parse_public_url, "http://127.0.0.1:8000", env),
        "digest_hour": _env("DIGEST_HOUR", _parse_hour, 8, env),
    }
    if values["smtp_ssl"] and values["smtp_starttls"]:
        raise ConfigError(
            f"{PREFIX}SMTP_SSL and {PREFIX}SMTP_STARTTLS are exclusive: "
            "SSL connects with TLS from the start, STARTTLS upgrades a plain connection"
        )
    if values["smtp_password"] and not values["smtp_user"]:
        raise ConfigError(f"{PREFIX}SMTP_PASSWORD is set but {PREFIX}SMTP_USER is empty")
    if values["smtp_timeout"] == 0:
        raise ConfigError(f"{PREFIX}SMTP_TIMEOUT=0 is invalid: expected a number of seconds > 0")
    return values
