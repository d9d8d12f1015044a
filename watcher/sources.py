"""Sources: validating, adding, listing and importing watched URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.errors import DuplicateError, InputError, NotFoundError
from watcher.models import Clinic, Source

KINDS = ("page", "site")
LANGUAGES = ("ja", "en", "mixed")
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 366 * 86400


def parse_interval(text: str) -> int:
    """'30m', '6h', '1d', '1w' (or '45s', for tests) → seconds."""
    match = _INTERVAL.match(text)
    if not match:
        raise InputError(f"invalid interval {text!r}: use a number and a unit, e.g. 30m, 6h, 1d, 1w")
    seconds = int(float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    if seconds < MIN_INTERVAL_SECONDS:
        raise InputError(f"invalid interval {text!r}: must be at least {MIN_INTERVAL_SECONDS} second")
    if seconds > MAX_INTERVAL_SECONDS:  # also keeps it within the database's integer column
        raise InputError(f"invalid interval {text!r}: must be at most 366d")
    return seconds


def format_interval(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def normalize_url(url: str) -> str:
    """Validate an http(s) URL and normalise scheme/host case; the fragment is dropped."""
    text = url.strip()
    if not text or any(ch.isspace() for ch in text):
        raise InputError(f"invalid URL {url!r}: empty or contains spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InputError(f"invalid URL {url!r}: {error}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise InputError(f"invalid URL {url!r}: only http and https URLs can be watched")
    if not parts.hostname:
        raise InputError(f"invalid URL {url!r}: no host name")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        raise InputError(f"invalid URL {url!r}: credentials in URLs are not supported")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True, kw_only=True)
class SourceSpec:
    url: str
    clinic: str | None = None
    kind: str = "page"
    interval_seconds: int = 86400
    language: str | None = None
    options: dict[str, Any] | None = None  # site sources: discovery options (watcher.discovery.SiteOptions)


def get_or_create_clinic(session: Session, name: str) -> Clinic:
    clinic = session.scalar(select(Clinic).where(Clinic.name == name))
    if clinic is None:
        clinic = Clinic(name=name)
        session.add(clinic)
        session.flush()
    return clinic


def add_sources(session: Session, specs: list[SourceSpec]) -> list[Source]:
    """Add every spec or none: a bad or duplicate URL rejects the whole call with one line."""
    urls = [normalize_url(spec.url) for spec in specs]
    seen: set[str] = set()
    for url in urls:
        if url in seen:
            raise DuplicateError(f"{url} is given twice")
        seen.add(url)
    existing = session.scalars(select(Source.url).where(Source.url.in_(urls))).all()
    if existing:
        raise DuplicateError(f"already watched: {', '.join(existing)}")
    added = []
    for spec, url in zip(specs, urls, strict=True):
        if spec.kind not in KINDS:
            raise InputError(f"invalid kind {spec.kind!r}: use page or site")
        if spec.language is not None and spec.language not in LANGUAGES:
            raise InputError(f"invalid language {spec.language!r}: use ja, en or mixed")
        clinic = get_or_create_clinic(session, spec.clinic) if spec.clinic else None
        source = Source(url=url, kind=spec.kind, clinic=clinic, interval_seconds=spec.interval_seconds,
                        language=spec.language, options=spec.options)
        session.add(source)
        added.append(source)
    session.flush()
    return added


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.id)))


def resolve_source(session: Session, ref: str) -> Source:
    """A source by numeric id or by URL."""
    ref = ref.strip()
    if ref.isdigit():
        source = session.get(Source, int(ref))
    else:
        try:
            url = normalize_url(ref)
        except InputError:
            raise NotFoundError(f"no source {ref!r}: give a source id or a watched URL") from None
        source = session.scalar(select(Source).where(Source.url == url))
    if source is None:
        raise NotFoundError(f"no source {ref!r} (see `watcher sources list`)")
    return source


def source_dict(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "url": source.url,
        "kind": source.kind,
        "clinic": source.clinic.name if source.clinic else None,
        "language": source.language,
        "interval": format_interval(source.interval_seconds),
        "interval_seconds": source.interval_seconds,
        "active": source.active,
        "created_at": source.created_at.isoformat(),
        "options": source.options,
        "discovered_from_id": source.discovered_from_id,
        "next_due_at": source.next_due_at.isoformat() if source.next_due_at else None,
    }


def load_seed_file(path: Path) -> list[SourceSpec]:
    """Read a sources YAML file (see seeds/sources.yaml) into specs, with one-line errors."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path} is not valid YAML: {first}") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected a mapping with a 'sources' list")
    specs = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise InputError(f"{path}: entry {index} needs a 'url'")
        try:
            specs.append(SourceSpec(
                url=entry["url"],
                clinic=str(entry["clinic"]) if entry.get("clinic") else None,
                kind=str(entry.get("kind", "page")),
                interval_seconds=parse_interval(str(entry.get("interval", "1d"))),
                language=str(entry["language"]) if entry.get("language") else None,
                options=_seed_site_options(entry),
            ))
        except InputError as error:
            raise InputError(f"{path}: entry {index}: {error}") from None
    return specs


def _seed_site_options(entry: dict[str, Any]) -> dict[str, Any] | None:
    """Discovery options of a ``kind: site`` seed entry (max_pages, max_depth, include, exclude)."""
    from watcher.discovery import site_options

    if str(entry.get("kind", "page")) != "site":
        return None

    def patterns(key: str) -> list[str]:
        value = entry.get(key) or []
        return [str(item) for item in (value if isinstance(value, list) else [value])]

    try:
        return site_options(max_depth=entry.get("max_depth"), max_pages=entry.get("max_pages"),
                            include=patterns("include"), exclude=patterns("exclude")).to_json()
    except (TypeError, ValueError) as error:
        raise InputError(f"invalid discovery option: {error}") from None


def import_sources(session: Session, specs: list[SourceSpec]) -> tuple[list[Source], list[str]]:
    """Add the specs whose URL is not watched yet; returns (added, skipped URLs). Idempotent."""
    known = set(session.scalars(select(Source.url)).all())
    fresh: list[SourceSpec] = []
    skipped: list[str] = []
    for spec in specs:
        url = normalize_url(spec.url)
        if url in known:
            skipped.append(url)
        else:
            known.add(url)
            fresh.append(spec)
    return add_sources(session, fresh), skipped
