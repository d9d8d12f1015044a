"""Fault injection: the real service (`watcher run`) or `watcher check`, real local sites, real SMTP,
real SQLite and PostgreSQL, and real faults — the SMTP server down then back, a PostgreSQL server of
our own restarted mid-run, the disk filling up while a snapshot is written, SIGKILL at each stage of
recording, and a matrix of hostile responses. Each scenario ends with nothing lost, nothing
duplicated and the service still running (or, after a SIGKILL, the next run completing the work),
and adds its figures to the table printed at the end of the run (``conftest.pytest_terminal_summary``,
copied into README.md's *Reliability* section).

The PostgreSQL at 127.0.0.1:5432 is shared with other test runs, so it is never restarted here: the
restart scenario runs a throw-away server from Debian's binaries (``/usr/lib/postgresql/*/bin``).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from waiting import STARTUP_SECONDS, spawn, wait_for

from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.models import Alert, Check, Delivery, Snapshot, Source, TextVersion
from watcher.sources import SourceSpec, add_sources
from watcher.subscriptions import SubscriptionSpec, create_subscription

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")]

# Three pages whose second version strengthens claims, adds indications and drops a reference.
PAGES = {
    "aoba/nmn": (
        "<h1>NMN点滴療法</h1><p>当院のNMN点滴は慢性的な疲労の軽減が期待されています。</p><p>ご予約はお電話で承ります。</p>",
        "<h1>NMN点滴療法</h1><p>当院のNMN点滴は慢性的な疲労を改善します。</p><p>うつ病の方にも効果があります。</p>"
        "<p>ご予約はお電話で承ります。</p>",
    ),
    "aoba/exosome": (
        "<h1>Exosome therapy</h1><p>Our exosome therapy may help some patients with anxiety.</p><h2>References</h2>"
        "<ul><li>Tanaka H, et al. Vesicles and mood. J Regen Med. 2021;8:11-19. doi:10.1234/jrm.2021.011</li></ul>",
        "<h1>Exosome therapy</h1><p>Our exosome therapy is clinically proven to cure anxiety.</p>"
        "<p>It also improves autism in children.</p>",
    ),
    "birch/tms": (
        "<h1>TMS治療</h1><p>TMS治療はうつ病の症状の改善が期待されています。</p>",
        "<h1>TMS治療</h1><p>TMS治療でうつ病は必ず治ります。</p><p>統合失調症にも有効です。</p>",
    ),
}
INTRO_EN = (
    "<p>This page describes a treatment offered at our clinic, how a first visit goes and what it "
    "costs. Please read it before you book a consultation with one of our doctors.</p>"
)
INTRO_JA = "<p>このページでは当院で行っている治療の内容、初診の流れと費用についてご案内しています。ご予約の前にお読みください。</p>"
HTML = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head><body><main>{body}</main></body></html>'


def write_site(root: Path) -> list[str]:
    """The pages as versioned folders (version n served from round n); returns their URL paths."""
    paths = []
    for name, versions in PAGES.items():
        folder = root / name
        folder.mkdir(parents=True)
        for number, body in enumerate(versions, start=1):
            lang = "en" if "Exosome" in body else "ja"
            intro = INTRO_EN if lang == "en" else INTRO_JA
            (folder / f"{number}.html").write_text(
                HTML.format(lang=lang, title=name, body=body + intro), encoding="utf-8"
            )
        paths.append(f"/{name}/")
    return paths


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHER_")}
    return {
        **env,
        "WATCHER_DATABASE_URL": database_url,
        "WATCHER_DATA_DIR": str(data_dir),
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_DOWNLOAD_DELAY": "0",
        "WATCHER_AUTOTHROTTLE": "0",
        "WATCHER_RETRY_TIMES": "0",
        "WATCHER_SCHEDULER_JITTER": "0",
        "WATCHER_LOG_LEVEL": "INFO",
        "WATCHER_DOWNLOAD_TIMEOUT": "60",
        **extra,
    }


class Service:
    """`watcher run --tick 0.3` in its own session, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = spawn(["-m", "watcher.cli", "run", "--tick", "0.3"], env=env, log=log, cwd=REPO)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM; the exit status (0 after a clean stop)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STARTUP_SECONDS)

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_for_checks(store: Store, ids: list[int], rounds: int, service: Service) -> None:
    wait_for(
        lambda: all(count(store, Check, Check.source_id == i) >= rounds for i in ids),
        what=f"{rounds} round(s) of checks",
        details=service.text,
    )


@contextlib.contextmanager
def running(env: dict[str, str], log: Path) -> Iterator[Service]:
    service = Service(env, log)
    try:
        yield service
    finally:
        service.kill()


def count(store: Store, model: Any, *where: Any) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot_keys(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(select(Source.url, Snapshot.sha256).join(Source, Snapshot.source_id == Source.id))
        return [(url, sha) for url, sha in rows]


def alert_keys(store: Store) -> list[tuple[str, str, int]]:
    with store.session() as session:
        rows = session.execute(
            select(Source.url, Alert.dedupe_key, Alert.occurrences).join(Source, Alert.source_id == Source.id)
        )
        return [(url, key, occurrences) for url, key, occurrences in rows]


def duplicates(store: Store) -> int:
    """Snapshots of the same bytes of one page stored twice, and alerts raised again for one change."""
    snapshots = Counter(snapshot_keys(store))
    return sum(n - 1 for n in snapshots.values()) + sum(occurrences - 1 for _, _, occurrences in alert_keys(store))


def orphans(store: Store) -> int:
    """Half-written records: snapshots without their text version, changed checks without a snapshot."""
    with store.session() as session:
        bare = (
            session.scalar(
                select(func.count()).select_from(Snapshot).where(~Snapshot.id.in_(select(TextVersion.snapshot_id)))
            )
            or 0
        )
        changed = (
            session.scalar(
                select(func.count()).select_from(Check).where(Check.outcome == "changed", Check.snapshot_id.is_(None))
            )
            or 0
        )
    return bare + changed


def check_ids(store: Store) -> set[int]:
    with store.session() as session:
        return set(session.scalars(select(Check.id)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def watch(store: Store, site: VersionedSite, paths: list[str], *, interval: int = 1) -> list[int]:
    with store.session() as session:
        return [
            s.id
            for s in add_sources(
                session, [SourceSpec(url=site.url(p), interval_seconds=interval, clinic=p.split("/")[1]) for p in paths]
            )
        ]


# --- SMTP down, then back ----------------------------------------------------------------------------


def test_smtp_down_then_back(tmp_path: Path, fault_figures: list[dict[str, object]]) -> None:
    from watcher.demo.sink import MailSink

    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    port = free_port()  # nothing listens there yet: every attempt is refused
    env = service_env(
        store.engine.url.render_as_string(),
        tmp_path,
        WATCHER_SMTP_HOST="127.0.0.1",
        WATCHER_SMTP_PORT=str(port),
        WATCHER_SMTP_TIMEOUT="30",
        WATCHER_SMTP_RETRY_BACKOFF="0",
        WATCHER_SMTP_MAX_ATTEMPTS="100000",
        WATCHER_SCHEDULER_NOTIFY_INTERVAL="0.3",
    )
    with VersionedSite(root=tmp_path / "site") as site:
        paths = write_site(tmp_path / "site")
        ids = watch(store, site, paths)
        with store.session() as session:
            create_subscription(session, SubscriptionSpec(email="desk@example.org"))
        with running(env, tmp_path / "service.log") as service:
            wait_for_checks(store, ids, 1, service)
            site.round = 2
            wait_for(
                lambda: count(store, Alert) >= 5 and count(store, Delivery) == count(store, Alert),
                what="the alerts of round 2 in the outbox",
                details=service.text,
            )
            wait_for(
                lambda: count(store, Delivery, Delivery.attempts < 3) == 0,
                what="three refused attempts per mail",
                details=service.text,
            )
            assert count(store, Delivery, Delivery.status == "sent") == 0
            with MailSink(port=port) as sink:
                wait_for(
                    lambda: count(store, Delivery, Delivery.status == "sent") == count(store, Delivery),
                    what="every mail to go out once the SMTP server is back",
                    details=service.text,
                )
                received = sink.received()
            alive = service.alive()
            assert service.stop() == 0, service.text()
    deliveries = count(store, Delivery)
    message_ids = Counter(mail.message["Message-ID"] for mail in received)
    with store.session() as session:
        refused = sum(attempts - 1 for attempts in session.scalars(select(Delivery.attempts)))
    lost = deliveries - len(message_ids)
    duplicated = sum(n - 1 for n in message_ids.values()) + duplicates(store)
    fault_figures.append(
        {
            "scenario": "SMTP server down, then back",
            "faults": f"{refused} refused attempts",
            "survived": "all",
            "rows": f"{deliveries} mails",
            "lost": lost,
            "duplicates": duplicated,
            "service": "running" if alive else "DEAD",
        }
    )
    store.dispose()
    assert alive and lost == 0 and duplicated == 0 and orphans(store) == 0


# --- a PostgreSQL server of our own, restarted mid-run --------------------------------------------


class PrivatePostgres:
    """initdb + pg_ctl on a free port in a temporary directory, run as the postgres user when we are root
    (initdb refuses root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="watcher-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=STARTUP_SECONDS)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    server = PrivatePostgres(found[-1].parent)
    try:
        yield server.init()
    finally:
        server.destroy()


def test_postgresql_restarted_mid_run(
    private_postgres: PrivatePostgres, tmp_path: Path, fault_figures: list[dict[str, object]]
) -> None:
    store = Store(private_postgres.url)
    env = service_env(private_postgres.url, tmp_path)
    entered, release = threading.Event(), threading.Event()

    def held(info: RequestInfo) -> RouteResult:
        entered.set()
        release.wait(STARTUP_SECONDS)
        return (
            200,
            {"Content-Type": "text/html; charset=utf-8"},
            HTML.format(lang="en", title="held", body=("<p>NMN may improve sleep in older adults.</p>")).encode(),
        )

    with VersionedSite(root=tmp_path / "site") as site:
        paths = write_site(tmp_path / "site")
        ids = watch(store, site, paths)
        with running(env, tmp_path / "service.log") as service:
            wait_for_checks(store, ids, 2, service)
            site.round = 2
            site.route("/held/", held)
            held_id = watch(store, site, ["/held/"])[0]
            assert entered.wait(STARTUP_SECONDS), service.text()
            committed = check_ids(store)
            store.dispose()
            private_postgres.stop()  # while a capture is on its way
            release.set()
            wait_for(
                lambda: "run failed" in service.text(),
                what="the service to meet the stopped database",
                details=service.text,
            )
            assert service.alive(), service.text()
            private_postgres.start()
            wait_for(
                lambda: (
                    count(store, Check, Check.source_id == held_id) >= 1
                    and all(count(store, Snapshot, Snapshot.source_id == i) == 2 for i in ids)
                ),
                what="checks to go on after the restart",
                details=service.text,
            )
            alive = service.alive()
            assert service.stop() == 0, service.text()
    lost = len(committed - check_ids(store))
    duplicated = duplicates(store)
    fault_figures.append(
        {
            "scenario": "PostgreSQL restarted mid-run",
            "faults": "1 restart during a capture",
            "survived": "1/1",
            "rows": f"committed checks: {len(committed)}",
            "lost": lost,
            "duplicates": duplicated,
            "service": "running" if alive else "DEAD",
        }
    )
    assert alive and lost == 0 and duplicated == 0 and orphans(store) == 0
    assert "Traceback" not in service.text()
    store.dispose()


# --- the disk fills up while a snapshot is written ----------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MB tmpfs (needs root and the right to mount; else the test skips with the reason)."""
    mount_point = Path(tempfile.mkdtemp(prefix="watcher-small-disk-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if result.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a small filesystem: {result.stderr.strip() or 'mount failed'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def fill(disk: Path, *, leave: int) -> Path:
    """Fill ``disk`` until about ``leave`` bytes are free; the filler file is returned."""
    filler = disk / "filler"
    with filler.open("wb") as stream:
        while shutil.disk_usage(disk).free > leave + 65536:
            stream.write(b"\0" * min(65536, shutil.disk_usage(disk).free - leave))
            stream.flush()
    return filler


def big_page(words: int) -> bytes:
    chance = random.Random(7)
    vocabulary = [
        "clinic",
        "patients",
        "treatment",
        "session",
        "stem",
        "cell",
        "culture",
        "results",
        "anxiety",
        "sleep",
        "report",
        "visit",
        "weekly",
        "doctor",
        "plan",
        "month",
        "care",
        "therapy",
    ]
    paragraphs = "".join(
        "<p>" + " ".join(chance.choice(vocabulary) for _ in range(60)) + ".</p>" for _ in range(words // 60)
    )
    return HTML.format(lang="en", title="big", body="<h1>Long report</h1>" + paragraphs).encode()


def test_disk_full_while_writing_a_snapshot(
    small_disk: Path, tmp_path: Path, fault_figures: list[dict[str, object]]
) -> None:
    store = Store(f"sqlite:///{small_disk / 'w.db'}")
    env = service_env(store.engine.url.render_as_string(), small_disk)
    version = {"body": big_page(600)}

    def page(info: RequestInfo) -> RouteResult:
        return 200, {"Content-Type": "text/html; charset=utf-8"}, version["body"]

    with VersionedSite(root=tmp_path / "site") as site:
        site.route("/big/", page)
        source = watch(store, site, ["/big/"])[0]
        with running(env, tmp_path / "service.log") as service:
            wait_for(
                lambda: count(store, Snapshot, Snapshot.source_id == source) == 1,
                what="the first snapshot",
                details=service.text,
            )
            committed = check_ids(store)
            filler = fill(small_disk, leave=32 * 1024)
            version["body"] = big_page(120_000)  # about 900 KB of text: more than the space left
            wait_for(
                lambda: "disk is full" in service.text(), what="a write to fail on the full disk", details=service.text
            )
            failed_while_full = service.alive()
            filler.unlink()
            wait_for(
                lambda: count(store, Snapshot, Snapshot.source_id == source) == 2,
                what="the big snapshot once there is room again",
                details=service.text,
            )
            alive = service.alive()
            assert service.stop() == 0, service.text()
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    lost = len(committed - check_ids(store))
    duplicated = duplicates(store)
    failures = service.text().count("disk is full")
    fault_figures.append(
        {
            "scenario": "disk full while writing a snapshot (16 MB tmpfs)",
            "faults": f"{failures} failed write(s)",
            "survived": "all" if failed_while_full else "0",
            "rows": f"committed checks: {len(committed)}",
            "lost": lost,
            "duplicates": duplicated,
            "service": "running" if alive else "DEAD",
        }
    )
    assert failed_while_full and alive and lost == 0 and duplicated == 0 and orphans(store) == 0
    store.dispose()


# --- SIGKILL at each stage of recording -------------------------------------------------------------

# `watcher check` with a hook that stops the process for good at one stage of recording a changed
# page (the n-th matching SQL statement, or the first commit after recording began) and says so by
# creating a file; the test then SIGKILLs it there.
STOPPER = """
import sys, threading
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.engine import Engine
prefix, wanted, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
seen = {"armed": False, "count": 0}

def stop_here():
    marker.write_text("stopped")
    threading.Event().wait()  # until SIGKILL

def statement(conn, cursor, sql, params, context, executemany):
    if sql.lstrip().upper().startswith("INSERT INTO CHECKS"):
        seen["armed"] = True
    if prefix != "COMMIT" and sql.lstrip().upper().startswith(prefix):
        seen["count"] += 1
        if seen["count"] == wanted:
            stop_here()

def commit(conn):
    if prefix == "COMMIT" and seen["armed"]:
        stop_here()

event.listen(Engine, "before_cursor_execute", statement)
event.listen(Engine, "commit", commit)
from watcher.cli import main
sys.exit(main(["check"]))
"""

STAGES = [
    ("check row", "INSERT INTO CHECKS", 1),
    ("snapshot", "INSERT INTO SNAPSHOTS", 1),
    ("text version", "INSERT INTO TEXT_VERSIONS", 1),
    ("diff", "INSERT INTO CHANGES", 1),
    ("claim profile", "INSERT INTO CLAIM_PROFILES", 1),
    ("alert", "INSERT INTO ALERTS", 1),
    ("commit", "COMMIT", 1),
    # A part's rows of each table go in together (watcher.pipeline.record: its checks and its changes one
    # multi-row INSERT each), so no statement stands between one page's rows and the next page's; the
    # part's other writes are the body and the passage index.
    ("body", "INSERT INTO BODIES", 1),
    ("passage index", "INSERT INTO PASSAGE_RUNS", 1),
]


def run_check(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watcher.cli", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS * 2,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def two_rounds(
    store: Store, env: dict[str, str], site: VersionedSite, paths: list[str], between: Callable[[], None] | None = None
) -> None:
    site.round = 1
    watch(store, site, paths, interval=86400)
    run_check(env)
    site.round = 2
    if between is not None:
        between()
    run_check(env)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """What two clean rounds record (page paths, not URLs: each scenario has its own port)."""
    tmp = tmp_path_factory.mktemp("reference")
    store = Store(f"sqlite:///{tmp / 'w.db'}")
    with VersionedSite(root=tmp / "site") as site:
        paths = write_site(tmp / "site")
        two_rounds(store, service_env(store.engine.url.render_as_string(), tmp), site, paths)
        base = site.url("/").rstrip("/")
    snapshots = {(url.removeprefix(base), sha) for url, sha in snapshot_keys(store)}
    alerts = {(url.removeprefix(base), key) for url, key, _ in alert_keys(store)}
    store.dispose()
    assert len(snapshots) == 6 and len(alerts) >= 5
    return snapshots, alerts


@pytest.mark.parametrize(("stage", "prefix", "occurrence"), STAGES, ids=[s[0] for s in STAGES])
def test_sigkill_at_each_stage_of_recording(
    stage: str,
    prefix: str,
    occurrence: int,
    tmp_path: Path,
    reference: tuple[set[tuple[str, str]], set[tuple[str, str]]],
    fault_figures: list[dict[str, object]],
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    env = service_env(store.engine.url.render_as_string(), tmp_path)
    marker = tmp_path / "stopped"

    def killed_at_stage() -> None:
        process = spawn(
            ["-c", STOPPER, prefix, str(occurrence), str(marker)], env=env, log=tmp_path / "killed.log", cwd=REPO
        )
        try:
            wait_for(
                marker.exists,
                what=f"watcher check to reach the {stage} stage",
                details=lambda: (tmp_path / "killed.log").read_text(),
            )
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    with VersionedSite(root=tmp_path / "site") as site:
        paths = write_site(tmp_path / "site")
        two_rounds(store, env, site, paths, between=killed_at_stage)
        base = site.url("/").rstrip("/")
    snapshots = [(url.removeprefix(base), sha) for url, sha in snapshot_keys(store)]
    alerts = [(url.removeprefix(base), key) for url, key, _ in alert_keys(store)]
    expected_snapshots, expected_alerts = reference
    lost = len(expected_snapshots - set(snapshots)) + len(expected_alerts - set(alerts))
    duplicated = duplicates(store) + len(set(snapshots) - expected_snapshots) + len(set(alerts) - expected_alerts)
    fault_figures.append(
        {
            "scenario": f"SIGKILL of watcher check at: {stage}",
            "faults": "1 kill",
            "survived": "next run completes",
            "rows": f"{len(expected_snapshots)} snapshots, {len(expected_alerts)} alerts",
            "lost": lost,
            "duplicates": duplicated,
            "service": "restarted",
        }
    )
    assert lost == 0 and duplicated == 0 and orphans(store) == 0
    store.dispose()


# --- hostile responses --------------------------------------------------------------------------------


def _stalled(info: RequestInfo) -> RouteResult:
    def body() -> Iterator[bytes]:
        yield b"<html><body><p>The beginning of a page that never ends"
        threading.Event().wait(STARTUP_SECONDS)  # the crawl's timeout (3 s here) ends it first

    return 200, {"Content-Type": "text/html"}, body()


def _chain(info: RequestInfo) -> RouteResult:
    """/hostile/N/ → /hostile/chain-1 → /hostile/chain-2 → ... (more hops than any crawler follows)."""
    hop = int(info.path.rsplit("-", 1)[1]) if "/chain-" in info.path else 0
    return 302, {"Location": f"/hostile/chain-{hop + 1}"}, b""


def _gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}
HOSTILE: dict[str, Callable[[RequestInfo], RouteResult]] = {
    "binary body": lambda info: (200, {"Content-Type": "application/octet-stream"}, random.Random(1).randbytes(4096)),
    "binary body labelled HTML": lambda info: (200, HTML_HEADERS, random.Random(2).randbytes(4096)),
    "gzip bomb": lambda info: (200, {**HTML_HEADERS, "Content-Encoding": "gzip"}, _gzip_bomb()),
    "body over the size limit": lambda info: (200, HTML_HEADERS, b"<p>" + b"a" * 3_000_000 + b"</p>"),
    "stalled body": _stalled,
    "redirect loop": lambda info: (302, {"Location": info.path}, b""),
    "redirect chain of 40": lambda info: _chain(info),
    "redirect to a private address": lambda info: (302, {"Location": "http://10.1.2.3/admin"}, b""),
    "redirect to cloud metadata": lambda info: (302, {"Location": "http://169.254.169.254/latest/"}, b""),
    "503 with Retry-After": lambda info: (503, {"Retry-After": "1"}, b"busy"),
    "429 with a long Retry-After": lambda info: (429, {"Retry-After": "86400"}, b"slow down"),
    "404": lambda info: (404, HTML_HEADERS, b"<h1>Not found</h1>"),
    "500": lambda info: (500, HTML_HEADERS, b"<h1>Internal error</h1>"),
    "challenge page": lambda info: (
        403,
        {**HTML_HEADERS, "Server": "cloudflare"},
        b"<html><head><title>Just a moment...</title></head><body>"
        b"<p>Checking your browser before accessing the site.</p></body></html>",
    ),
    "login wall": lambda info: (
        200,
        HTML_HEADERS,
        b"<html><head><title>Sign in</title></head><body><form>"
        b"<input type=password name=pw><button>Log in</button></form></body></html>",
    ),
    "empty 200": lambda info: (200, HTML_HEADERS, b""),
    "truncated body": lambda info: (200, {**HTML_HEADERS, "Content-Length": "5000"}, b"<p>short</p>"),
    "deeply nested page": lambda info: (200, HTML_HEADERS, b"<div>" * 20000 + b"NMN is proven" + b"</div>" * 20000),
    "single-line page": lambda info: (200, HTML_HEADERS, b"<p>" + b"word " * 300_000 + b"</p>"),
    "invalid UTF-8": lambda info: (200, HTML_HEADERS, b"<p>\xff\xfe\xfa broken \xc3 bytes</p>" * 50),
    "Shift_JIS without a charset": lambda info: (
        200,
        {"Content-Type": "text/html"},
        "<p>幹細胞培養上清液でうつ病が改善します。</p>".encode("cp932"),
    ),
    "wrong declared charset": lambda info: (
        200,
        {"Content-Type": "text/html; charset=iso-8859-1"},
        "<p>エクソソームは自閉症に有効です。</p>".encode(),
    ),
    "robots.txt disallow": lambda info: (200, HTML_HEADERS, b"<p>never fetched</p>"),
    "NUL bytes in text": lambda info: (200, HTML_HEADERS, b"<p>NMN\0 may\0 help\0 sleep</p>" * 20),
}


def test_hostile_responses_each_become_one_recorded_check(
    tmp_path: Path, fault_figures: list[dict[str, object]], database_url: str
) -> None:
    store = Store(database_url)
    env = service_env(
        database_url,
        tmp_path,
        WATCHER_DOWNLOAD_TIMEOUT="3",
        WATCHER_MAX_BODY_BYTES="1000000",
        WATCHER_RETRY_TIMES="1",
        WATCHER_RETRY_BACKOFF="0.1",
    )
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /hostile/robots/\n")
    with VersionedSite(root=root) as site:
        paths = []
        for number, (name, handler) in enumerate(HOSTILE.items()):
            path = "/hostile/robots/" if name == "robots.txt disallow" else f"/hostile/{number}/"
            site.route(path, handler)
            paths.append(path)
        for hop in range(1, 60):
            site.route(f"/hostile/chain-{hop}", _chain)
        ids = watch(store, site, paths)
        result = subprocess.run(
            [sys.executable, "-m", "watcher.cli", "check", "--json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS * 3,
        )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    with store.session() as session:
        per_source = Counter(session.scalars(select(Check.source_id)))
    recorded = sum(1 for i in ids if per_source[i] == 1)
    lost = sum(1 for i in ids if per_source[i] == 0)
    duplicated = sum(per_source[i] - 1 for i in ids if per_source[i] > 1) + duplicates(store)
    if store.engine.dialect.name == "sqlite":
        fault_figures.append(
            {
                "scenario": f"hostile responses ({len(HOSTILE)} kinds), one watcher check",
                "faults": f"{len(HOSTILE)} kinds",
                "survived": f"{recorded}/{len(HOSTILE)} recorded",
                "rows": f"{len(ids)} checks",
                "lost": lost,
                "duplicates": duplicated,
                "service": "exit 0",
            }
        )
    assert recorded == len(HOSTILE) and lost == 0 and duplicated == 0 and orphans(store) == 0
    store.dispose()
