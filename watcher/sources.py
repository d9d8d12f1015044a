"""Sources: validating, adding, listing and importing watched URLs, the options of site sources
(what discovery may add from a site entry point: ``SiteOptions``) and the CSS selectors of a source's
main text (``set_selectors``; its texts are stored under ``source_extractor_version``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import ColumnElement, Select, String, case, cast, literal, or_, select
from sqlalchemy.orm import Session

from watcher.errors import DuplicateError, InputError, NotFoundError
from watcher.extract import EXTRACTOR_VERSION, NO_SELECTORS, Selectors
from watcher.links import normalize_url
from watcher.models import Clinic, Source

log = logging.getLogger(__name__)

KINDS = ("page", "site")
LANGUAGES = ("ja", "en", "mixed")
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_INTERVAL_SECONDS = 1
DEFAULT_MAX_DEPTH = 1
DEFAULT_MAX_PAGES = 100
MAX_DEPTH_LIMIT = 5
MAX_PAGES_LIMIT = 10_000
MAX_PATTERNS = 20
MAX_PATTERN_CHARS = 300
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


@dataclass(frozen=True, kw_only=True)
class SiteOptions:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "include": list(self.include),
            "exclude": list(self.exclude),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SiteOptions:
        """Stored options (validated when stored); unknown or damaged values fall back to defaults."""
        data = data or {}
        try:
            return site_options(
                max_depth=data.get("max_depth"),
                max_pages=data.get("max_pages"),
                include=data.get("include") or (),
                exclude=data.get("exclude") or (),
            )
        except (InputError, TypeError, ValueError) as error:
            log.warning("ignoring damaged site options %r: %s", dict(data), error)
            return cls()


def site_options(
    *,
    max_depth: int | None = None,
    max_pages: int | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> SiteOptions:
    """Validated options; a bad value raises InputError with one line naming the option."""
    depth = DEFAULT_MAX_DEPTH if max_depth is None else int(max_depth)
    pages = DEFAULT_MAX_PAGES if max_pages is None else int(max_pages)
    if not 1 <= depth <= MAX_DEPTH_LIMIT:
        raise InputError(f"invalid --max-depth {depth}: use 1 to {MAX_DEPTH_LIMIT}")
    if not 1 <= pages <= MAX_PAGES_LIMIT:
        raise InputError(f"invalid --max-pages {pages}: use 1 to {MAX_PAGES_LIMIT}")
    includes = tuple(include)
    excludes = tuple(exclude)
    for option, patterns in (("--include", includes), ("--exclude", excludes)):
        if len(patterns) > MAX_PATTERNS:
            raise InputError(f"too many {option} patterns: at most {MAX_PATTERNS}")
        for pattern in patterns:
            compile_pattern(pattern, option=option)
    return SiteOptions(max_depth=depth, max_pages=pages, include=includes, exclude=excludes)


def compile_pattern(pattern: str, *, option: str = "pattern") -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise InputError(f"invalid {option} pattern {pattern!r}: empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InputError(f"invalid {option} pattern: longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise InputError(f"invalid {option} pattern {pattern!r}: {error}") from None


def selectors_json(selectors: Selectors) -> dict[str, Any] | None:
    return {"select": list(selectors.select), "drop": list(selectors.drop)} if selectors else None


def stored_selectors(source: Source) -> Selectors:
    """The selectors stored on a source (validated when stored; InputError if damaged since)."""
    data = source.selectors or {}
    return Selectors.parse(select=data.get("select") or (), drop=data.get("drop") or ())


def extraction_selectors(source: Source) -> Selectors:
    """The selectors its captures are extracted with. A site source's own entry point (a listing) is
    extracted without them: they are for the pages discovered from it, which inherit them."""
    return NO_SELECTORS if source.kind == "site" else stored_selectors(source)


def source_extractor_version(source: Source) -> str:
    """The extractor version its current texts are stored and compared under:
    ``watcher.extract.extractor_version(extraction_selectors(source))``, from the stored key."""
    key = source.selectors_key if source.kind != "site" else None
    return f"{EXTRACTOR_VERSION}+{key}" if key else EXTRACTOR_VERSION


def extractor_version_sql() -> ColumnElement[str]:
    """``source_extractor_version`` as an SQL expression over ``Source`` (for queries over many sources)."""
    keyed = literal(f"{EXTRACTOR_VERSION}+", String) + cast(Source.selectors_key, String)
    return case(
        (or_(Source.selectors_key.is_(None), Source.kind == "site"), literal(EXTRACTOR_VERSION, String)), else_=keyed
    )


def set_selectors(source: Source, selectors: Selectors) -> bool:
    """Store a source's selectors; True when they changed (its texts must then be re-derived:
    ``watcher.pipeline.analyse.rederive_source``)."""
    key = selectors.key or None
    changed = key != source.selectors_key
    source.selectors = selectors_json(selectors)
    source.selectors_key = key
    return changed


def discovery_info(source: Source) -> dict[str, Any]:
    """What discovery recorded on a discovered page: depth, found_on (URL), baseline."""
    info = (source.options or {}).get("discovery") if source.kind == "page" else None
    return info if isinstance(info, dict) else {}


def is_new_page(source: Source) -> bool:
    """A page found by a discovery after the site's baseline."""
    return source.discovered_from_id is not None and discovery_info(source).get("baseline") is False


@dataclass(frozen=True, kw_only=True)
class SourceSpec:
    url: str
    clinic: str | None = None
    kind: str = "page"
    interval_seconds: int = 86400
    language: str | None = None
    options: dict[str, Any] | None = None  # site sources: discovery options (SiteOptions.to_json)
    render: bool = False  # fetch through the headless browser (the DOM after scripts ran)
    screenshot: bool = False  # a full-page screenshot of each new version (implied by render)
    selectors: Selectors = NO_SELECTORS  # CSS selectors of the main text (site sources: of their pages)
    requisites: bool = False  # keep each new version's stylesheets, images and scripts (watcher.pipeline.requisites)


def clinic_peers(source: Source) -> Select[int]:
    """The ids of the other pages of the source's clinic (or, without a clinic, of the site it was
    discovered from): where a clinic-level claim of this page may have been made before."""
    peers = select(Source.id).where(Source.id != source.id, Source.kind == "page")
    if source.clinic_id is not None:
        return peers.where(Source.clinic_id == source.clinic_id)
    return peers.where(Source.discovered_from_id == source.discovered_from_id)


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
        source = Source(
            url=url,
            kind=spec.kind,
            clinic=clinic,
            interval_seconds=spec.interval_seconds,
            language=spec.language,
            options=spec.options,
            render=spec.render,
            screenshot=spec.screenshot or spec.render,
            requisites=spec.requisites,
        )
        set_selectors(source, spec.selectors)
        session.add(source)
        added.append(source)
    session.flush()
    return added


def set_rendering(source: Source, *, render: bool | None = None, screenshot: bool | None = None) -> None:
    """Turn browser rendering and screenshots on or off for a source (None leaves one as it is).
    Rendering implies screenshots: turning it on turns them on, turning screenshots off turns it off."""
    if render is not None:
        source.render = render
        if render:
            source.screenshot = True
    if screenshot is not None:
        if not screenshot and render:
            raise InputError("--render takes a screenshot of every version: it cannot go with --no-screenshot")
        source.screenshot = screenshot
        if not screenshot:
            source.render = False


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.id)))


def list_source_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Source.id).order_by(Source.id)))


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
        "render": source.render,
        "screenshot": source.screenshot,
        "requisites": source.requisites,
        "select": list((source.selectors or {}).get("select") or []),
        "drop": list((source.selectors or {}).get("drop") or []),
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
            specs.append(
                SourceSpec(
                    url=entry["url"],
                    clinic=str(entry["clinic"]) if entry.get("clinic") else None,
                    kind=str(entry.get("kind", "page")),
                    interval_seconds=parse_interval(str(entry.get("interval", "1d"))),
                    language=str(entry["language"]) if entry.get("language") else None,
                    options=_seed_site_options(entry),
                    render=entry.get("render") is True,
                    screenshot=entry.get("screenshot") is True,
                    requisites=entry.get("requisites") is True,
                    selectors=Selectors.parse(select=_seed_list(entry, "select"), drop=_seed_list(entry, "drop")),
                )
            )
        except InputError as error:
            raise InputError(f"{path}: entry {index}: {error}") from None
    return specs


def _seed_list(entry: dict[str, Any], key: str) -> list[str]:
    """A seed key holding one string or a list of them (patterns, selectors)."""
    value = entry.get(key) or []
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _seed_site_options(entry: dict[str, Any]) -> dict[str, Any] | None:
    """Discovery options of a ``kind: site`` seed entry (max_pages, max_depth, include, exclude)."""
    if str(entry.get("kind", "page")) != "site":
        return None
    try:
        return site_options(
            max_depth=entry.get("max_depth"),
            max_pages=entry.get("max_pages"),
            include=_seed_list(entry, "include"),
            exclude=_seed_list(entry, "exclude"),
        ).to_json()
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
