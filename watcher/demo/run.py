"""``watcher demo``: the whole pipeline against the bundled demo site, on a fresh embedded database.

The demo site (seeds/demo_site/) holds fictional clinic pages in dated versions; each round the local
server serves the next versions, and watcher checks every page, as a scheduler would over months. The
rounds run within a minute, but their captures are recorded on a simulated timeline (timeline.yaml:
rounds months apart), the way ``watcher import-warc`` and ``watcher backfill`` record captures with
their own dates: the charts, ``watcher claims`` and ``watcher history --at`` then tell the story.
"""

from __future__ import annotations

import shlex
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select, update

from watcher.capture import Capture
from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.demo.mail import DemoMail
from watcher.demo.site import VersionedSite
from watcher.describe import describe_alert
from watcher.links import html_links
from watcher.models import Alert, Change, Check, Snapshot, Source
from watcher.netguard import LOOPBACK_NETWORKS
from watcher.pipeline.run import check_with_discovery
from watcher.queries.alerts import find_alerts
from watcher.sources import SourceSpec, import_sources, site_options

DEMO_SITE = Path(__file__).resolve().parents[2] / "seeds" / "demo_site"

Echo = Callable[[str], None]


def _version_numbers(page_dir: Path) -> list[int]:
    return [int(p.name.split(".")[0]) for p in page_dir.glob("[0-9]*.html") if p.name.split(".")[0].isdigit()]


def _linked_from_index(root: Path) -> set[str]:
    base = "http://demo.invalid/"
    links = html_links((root / "index.html").read_bytes(), content_type="text/html; charset=utf-8", base_url=base)
    return {link.removeprefix(base.rstrip("/")) for link in links if link.startswith(base)}


def demo_pages(root: Path) -> list[tuple[str, str, int]]:
    """(URL path, clinic slug, first round) of each versioned page the demo registers: those the
    site's index.html links to. Blog listings (folders named ``blog``) are site sources instead (see
    ``demo_sites``), and a post that only a blog listing links to is left for discovery to find.
    """
    linked = _linked_from_index(root)
    pages = []
    for page_dir in sorted({version.parent for version in root.glob("*/*/[0-9]*.html")}):
        if page_dir.name == "blog" or "/" + page_dir.relative_to(root).as_posix() + "/" not in linked:
            continue
        path = "/" + page_dir.relative_to(root).as_posix() + "/"
        pages.append((path, page_dir.parent.name, min(_version_numbers(page_dir))))
    return pages


def demo_sites(root: Path) -> list[tuple[str, str]]:
    """(URL path, clinic slug) of each blog listing: a ``--site`` source from which new posts are found."""
    return [
        ("/" + page_dir.relative_to(root).as_posix() + "/", page_dir.parent.name)
        for page_dir in sorted({version.parent for version in root.glob("*/blog/[0-9]*.html")})
    ]


def rounds_in(root: Path) -> int:
    return max(n for page_dir in {v.parent for v in root.glob("*/*/[0-9]*.html")} for n in _version_numbers(page_dir))


def clinic_name(slug: str) -> str:
    names = yaml.safe_load((DEMO_SITE / "clinics.yaml").read_text(encoding="utf-8")) or {}
    return str(names.get(slug) or slug)


def round_dates(root: Path = DEMO_SITE) -> dict[int, datetime]:
    """The date each round is recorded at (``timeline.yaml``: round number → ISO date-time)."""
    entries = yaml.safe_load((root / "timeline.yaml").read_text(encoding="utf-8")) or {}
    dates = {int(number): datetime.fromisoformat(str(value)).astimezone(UTC) for number, value in entries.items()}
    missing = set(range(1, rounds_in(root) + 1)) - set(dates)
    if missing:
        raise ValueError(f"{root / 'timeline.yaml'} has no date for round(s) {sorted(missing)}")
    return dates


@dataclass
class DemoClock:
    """The demo's clock: a capture is recorded at the round's simulated date plus the real time
    elapsed since the round began (so captures within a round keep their order and spacing)."""

    at: datetime
    started: datetime

    @classmethod
    def starting(cls, at: datetime) -> DemoClock:
        return cls(at=at, started=datetime.now(UTC))

    def __call__(self, capture: Capture) -> Capture:
        return replace(capture, fetched_at=self.at + (capture.fetched_at - self.started))


def run_demo(*, rounds: int | None, keep: Path | None, echo: Echo, command: str = "watcher") -> None:
    """Run the demo; ``command`` is how the closing hints name the watcher command."""
    workdir = keep or Path(tempfile.mkdtemp(prefix="watcher-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "watcher.db"
    if database.exists():
        database.unlink()
    settings: Settings = replace(
        load_settings(),
        data_dir=workdir,
        database_url=f"sqlite:///{database}",
        allowed_networks=LOOPBACK_NETWORKS,
        download_delay=0.0,
        autothrottle=False,
        retry_backoff=0.2,
    )
    store = Store(settings.database_url)
    total_rounds = min(rounds or rounds_in(DEMO_SITE), rounds_in(DEMO_SITE))
    echo(
        f"watcher demo: {len(demo_pages(DEMO_SITE))} pages and {len(demo_sites(DEMO_SITE))} blog listing(s) "
        f"of 3 fictional clinics, {total_rounds} rounds"
    )
    echo(f"database: {database} (a fresh SQLite file{'' if keep else ' in a temporary directory'})")
    dates = round_dates()
    try:
        with VersionedSite(root=DEMO_SITE) as site, DemoMail(store, settings, echo) as mail:
            echo(f"demo site: {site.url('/')}")
            for round_number in range(1, total_rounds + 1):
                site.round = round_number
                _add_new_pages(store, site, round_number)
                at = dates[round_number]
                echo(
                    f"\n== round {round_number}, recorded as of {at:%Y-%m-%d}: the site serves version "
                    f"{round_number} of each page =="
                )
                _run_round(store, settings, echo, DemoClock.starting(at))
                mail.after_round()
                if round_number == 1:
                    again = at + timedelta(days=1)
                    echo(
                        f"\n== round 1 again, as of {again:%Y-%m-%d}, without conditional requests: the footers "
                        "rotate a CSRF token, a visitor counter and a timestamp; no new snapshot expected =="
                    )
                    _forget_validators(store)
                    _run_round(store, settings, echo, DemoClock.starting(again))
            mail.finish()
        _summary(store, echo)
    finally:
        store.dispose()
    _closing_hints(
        workdir,
        database,
        command,
        kept=keep is not None,
        middle=dates[min(2, total_rounds)] + timedelta(days=30),
        echo=echo,
    )


def _closing_hints(workdir: Path, database: Path, command: str, *, kept: bool, middle: datetime, echo: Echo) -> None:
    url = shlex.quote(f"sqlite:///{database}")
    echo(f"\nexplore (the demo's database: {database}):")
    echo(f"  WATCHER_DATABASE_URL={url} {command} history 1")
    echo(f"  WATCHER_DATABASE_URL={url} {command} history 1 --at {middle:%Y-%m-%d}")
    echo(f"  WATCHER_DATABASE_URL={url} {command} claims")
    echo(f"  WATCHER_DATABASE_URL={url} {command} serve   (the dashboard at http://127.0.0.1:8000/)")
    if kept:
        echo(f"remove it when done: rm {shlex.quote(str(database))}")
    else:
        echo(f"remove it when done: rm -r {shlex.quote(str(workdir))}")


def _add_new_pages(store: Store, site: VersionedSite, round_number: int) -> None:
    specs = [
        SourceSpec(url=site.url(path), clinic=clinic_name(slug), interval_seconds=86400)
        for path, slug, first in demo_pages(DEMO_SITE)
        if first <= round_number
    ]
    specs += [
        SourceSpec(
            url=site.url(path),
            clinic=clinic_name(slug),
            kind="site",
            interval_seconds=86400,
            options=site_options(max_depth=1, max_pages=20).to_json(),
        )
        for path, slug in demo_sites(DEMO_SITE)
    ]
    with store.session() as session:
        import_sources(session, specs)


def _forget_validators(store: Store) -> None:
    """Drop ETag/Last-Modified so the next round downloads every page in full (a 304 would hide
    that the noise in the footers is ignored by the text comparison)."""
    with store.session() as session:
        session.execute(update(Source).values(etag=None, last_modified=None))


def _run_round(store: Store, settings: Settings, echo: Echo, clock: DemoClock) -> None:
    with store.session() as session:
        before_id = session.scalar(select(func.max(Alert.id))) or 0
        ids = list(session.scalars(select(Source.id).order_by(Source.id)))
    # Site sources discover new posts, which are checked in the same round.
    results = list(check_with_discovery(store, ids, settings=settings, dated=clock))
    counts = Counter(r.outcome for r in results)
    echo("checks: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for result in results:
        if result.outcome != "unchanged":
            found = "  (new page, discovered from the blog listing)" if result.source_id not in ids else ""
            echo(f"  {result.outcome:<12} {result.http_status or '-':>4}  {result.url}{found}")
    with store.session() as session:
        alerts = [a for a in find_alerts(session) if int(a["id"]) > before_id]
    for alert in alerts:
        where = "clinic level, first seen on " if alert.get("scope") == "clinic" else ""
        echo(f"  ALERT {describe_alert(alert)}  — {alert['clinic']}, {where}{alert['source_url']}")
        if alert["before"]:
            echo(f"        before: {alert['before']}")
        if alert["after"]:
            echo(f"        after:  {alert['after']}")


def _summary(store: Store, echo: Echo) -> None:
    with store.session() as session:
        counts = {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("checks", Check), ("snapshots", Snapshot), ("changes", Change), ("alerts", Alert))
        }
        kinds = Counter(a["kind"] for a in find_alerts(session))
    echo("\n== summary ==")
    echo(", ".join(f"{v} {k}" for k, v in counts.items()))
    echo("alerts by kind: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"))
