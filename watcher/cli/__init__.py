"""The ``watcher`` command line. Every listing command takes ``--json`` (JSON on stdout, logs on stderr).

``main`` is the one place that turns errors into a one-line message and an exit status:
0 success, 2 bad input, configuration or store, 130 interrupted.

The package: this module (the group, ``main`` and the core commands), ``app`` (the lazily opened
settings and store every command shares), ``history``, ``notify``, ``report`` and ``service`` (more commands,
each with a ``register(cli)``).

Start-up time. Commands import what they use inside their function, each such import marked
``# lazy import: start-up time``: ``watcher compare`` and ``watcher --help`` must answer without
loading the database, SQLAlchemy, Alembic, the web stack or Scrapy (see benchmarks/README.md).
This package is the only place in ``watcher/`` with imports inside functions, besides
``watcher.db``'s Alembic (loaded only when the schema must move; tests/test_layers.py checks it).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections import Counter
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher import __version__
from watcher.cli import history, notify, report, service
from watcher.cli.app import AppContext, display_width, emit_json, emit_json_list, emit_rows, pad_cells, pass_app
from watcher.describe import describe_alert
from watcher.errors import InputError, WatcherError

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("watcher")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("alembic", "scrapy", "twisted"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="watcher")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """watcher: claim-aware change tracking for clinic web pages."""
    app = ctx.ensure_object(AppContext)
    _setup_logging(app.settings.log_level)
    ctx.call_on_close(app.close)


# --- db -----------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Apply migrations (they also run automatically on first use)."""
    # lazy import: start-up time
    from watcher.db import current_revision, make_engine, upgrade

    engine = make_engine(app.settings.database_url)
    try:
        upgrade(engine, revision)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    if app.settings.executor == "queue":
        # lazy import: start-up time
        from watcher.queue import ensure_queue_schema

        applied = ensure_queue_schema(app.settings.database_url)
        click.echo("queue schema (procrastinate) " + ("applied" if applied else "already present"))


@db.command("vacuum")
@pass_app
def db_vacuum(app: AppContext) -> None:
    """Rewrite the store compactly (SQLite: gives free pages back and turns on incremental vacuuming)."""
    # lazy import: start-up time
    from watcher.db import make_engine, vacuum

    engine = make_engine(app.settings.database_url)
    try:
        before = _store_bytes(engine)
        vacuum(engine)
        after = _store_bytes(engine)
    finally:
        engine.dispose()
    sizes = f": {before:,} -> {after:,} bytes" if before is not None and after is not None else ""
    click.echo(f"store vacuumed{sizes}")


def _store_bytes(engine: Engine) -> int | None:
    """The SQLite file's size in bytes, its WAL folded in (None on PostgreSQL)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return int(Path(engine.url.database).stat().st_size)


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: current, head, up_to_date.")
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """Print the database's migration revision and the code's head revision."""
    # lazy import: start-up time
    from watcher.db import current_revision, head_revision, make_engine

    engine = make_engine(app.settings.database_url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        click.echo(f"current: {current or '(empty)'}  head: {head}")


# --- sources ------------------------------------------------------------------------------------


@cli.group()
def sources() -> None:
    """Watched pages and sites."""


@sources.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--clinic", help="Name of the clinic behind the URL(s).")
@click.option("--interval", default="1d", show_default=True, help="Check interval: 30m, 6h, 1d, 1w.")
@click.option("--site", is_flag=True, help="The URL is a site entry point (sitemap or blog index).")
@click.option("--language", type=click.Choice(["ja", "en", "mixed"]), help="The page language, if known.")
@click.option("--max-pages", type=int, help="With --site: most pages to discover in all (default 100).")
@click.option("--max-depth", type=int, help="With --site: link hops from the entry point to follow (default 1).")
@click.option(
    "--include",
    multiple=True,
    metavar="REGEX",
    help="With --site: discover only URLs this regular expression matches (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="REGEX",
    help="With --site: never discover URLs this regular expression matches (repeatable).",
)
@click.option(
    "--backfill",
    "backfill",
    is_flag=True,
    help="Once added, record the source's earlier captures from the web archive (see `watcher backfill`).",
)
@click.option("--render", is_flag=True, help="Fetch through a headless browser (pages whose text scripts write).")
@click.option("--screenshot", is_flag=True, help="Keep a full-page screenshot of each version (--render does).")
@click.option(
    "--requisites",
    is_flag=True,
    help="Keep each version's stylesheets, images and scripts, so its WARC export replays as the page looked.",
)
@click.option(
    "--select",
    "select_css",
    multiple=True,
    metavar="CSS",
    help="The main text is what this CSS selector matches (repeatable; with --site: for its pages).",
)
@click.option(
    "--drop",
    "drop_css",
    multiple=True,
    metavar="CSS",
    help="Remove what this CSS selector matches before extracting (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the new source(s) as JSON.")
@pass_app
def sources_add(
    app: AppContext,
    urls: tuple[str, ...],
    clinic: str | None,
    interval: str,
    site: bool,
    language: str | None,
    max_pages: int | None,
    max_depth: int | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    backfill: bool,
    render: bool,
    screenshot: bool,
    requisites: bool,
    select_css: tuple[str, ...],
    drop_css: tuple[str, ...],
    as_json: bool,
) -> None:
    """Watch one or more URLs; with --backfill, record their history from the web archive too."""
    # lazy import: start-up time
    from watcher.extract import Selectors
    from watcher.netguard import check_new_source
    from watcher.sources import SourceSpec, add_sources, parse_interval, site_options, source_dict

    selectors = Selectors.parse(select=select_css, drop=drop_css)

    for url in urls:  # a private, loopback or link-local address is refused now, not at every fetch
        check_new_source(url, allowed=app.settings.fetch_networks)
    seconds = parse_interval(interval)
    discovery_given = max_pages is not None or max_depth is not None or include or exclude
    if discovery_given and not site:
        raise InputError("--max-pages, --max-depth, --include and --exclude need --site")
    options = (
        site_options(max_depth=max_depth, max_pages=max_pages, include=include, exclude=exclude).to_json()
        if site
        else None
    )
    specs = [
        SourceSpec(
            url=url,
            clinic=clinic,
            kind="site" if site else "page",
            interval_seconds=seconds,
            language=language,
            options=options,
            render=render,
            screenshot=screenshot,
            requisites=requisites,
            selectors=selectors,
        )
        for url in urls
    ]
    with app.store.session() as session:
        added = add_sources(session, specs)
        rows = [source_dict(s) for s in added]
    if as_json:
        emit_json(rows[0] if len(rows) == 1 else rows)
    else:
        for row in rows:
            click.echo(f"added source {row['id']}: {row['url']}")
    if backfill:
        # The reports go to stderr with --json, so stdout stays the one JSON document of the new sources.
        with redirect_stdout(sys.stderr) if as_json else nullcontext():
            history.run_backfill(app, [row["id"] for row in rows])


@sources.command("set")
@click.argument("ref")
@click.option("--render/--no-render", default=None, help="Fetch through a headless browser, or not.")
@click.option("--screenshot/--no-screenshot", default=None, help="Keep a screenshot of each version, or not.")
@click.option(
    "--requisites/--no-requisites",
    default=None,
    help="Keep each new version's stylesheets, images and scripts (for replay), or not.",
)
@click.option(
    "--select",
    "select_css",
    multiple=True,
    metavar="CSS",
    help="Replace the source's --select selectors with these (repeatable).",
)
@click.option(
    "--drop",
    "drop_css",
    multiple=True,
    metavar="CSS",
    help="Replace the source's --drop selectors with these (repeatable).",
)
@click.option("--clear-selectors", is_flag=True, help="Remove the source's CSS selectors (before any given here).")
@click.option("--json", "as_json", is_flag=True, help="Print the source as JSON.")
@pass_app
def sources_set(
    app: AppContext,
    ref: str,
    render: bool | None,
    screenshot: bool | None,
    requisites: bool | None,
    select_css: tuple[str, ...],
    drop_css: tuple[str, ...],
    clear_selectors: bool,
    as_json: bool,
) -> None:
    """Change how a source (id or URL) is fetched and extracted: rendering in a browser, screenshots,
    CSS selectors. New selectors re-derive its stored texts silently (no alerts)."""
    # lazy import: start-up time
    from watcher.extract import Selectors
    from watcher.pipeline.analyse import change_selectors
    from watcher.sources import resolve_source, set_rendering, source_dict, stored_selectors

    selecting = bool(select_css or drop_css or clear_selectors)
    if render is None and screenshot is None and requisites is None and not selecting:
        raise InputError(
            "nothing to set: give --render/--no-render, --screenshot/--no-screenshot, "
            "--requisites/--no-requisites, --select, --drop or --clear-selectors"
        )
    given = Selectors.parse(select=select_css, drop=drop_css)  # a bad selector: one line, nothing changed
    rederived = None
    with app.store.session() as session:
        source = resolve_source(session, ref)
        set_rendering(source, render=render, screenshot=screenshot)
        if requisites is not None:
            source.requisites = requisites
        if selecting:
            kept = Selectors() if clear_selectors else stored_selectors(source)
            chosen = Selectors.parse(select=given.select or kept.select, drop=given.drop or kept.drop)
            rederived = change_selectors(session, source, chosen)
        row = source_dict(source)
    if as_json:
        emit_json(row)
        return
    click.echo(
        f"source {row['id']}: render {'on' if row['render'] else 'off'}, "
        f"screenshot {'on' if row['screenshot'] else 'off'}, requisites {'on' if row['requisites'] else 'off'}, "
        f"select {_css_list(row['select'])}, drop {_css_list(row['drop'])}  {row['url']}"
    )
    if rederived is not None:
        click.echo(f"re-extracted {rederived.text_versions_created} text version(s) with the new selectors; no alerts")


def _css_list(selectors: list[str]) -> str:
    return " | ".join(selectors) if selectors else "-"


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def sources_list(app: AppContext, as_json: bool) -> None:
    """List watched sources."""
    # lazy import: start-up time
    from watcher.sources import list_sources, source_dict

    with app.store.session() as session:
        rows = [source_dict(s) for s in list_sources(session)]
    width = max((display_width(row["clinic"] or "-") for row in rows), default=0)
    emit_rows(
        rows,
        as_json=as_json,
        empty="no sources yet: add one with `watcher sources add URL`",
        show=lambda row: click.echo(
            f"{row['id']:>5}  {row['kind']:<4}  {row['interval']:>4}  "
            f"{pad_cells(row['clinic'] or '-', width)}  {row['url']}"
        ),
    )


@sources.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the added sources as JSON.")
@pass_app
def sources_import(app: AppContext, path: Path, as_json: bool) -> None:
    """Add the sources of a YAML file (e.g. seeds/sources.yaml); already watched URLs are skipped."""
    # lazy import: start-up time
    from watcher.netguard import check_new_source
    from watcher.sources import import_sources, load_seed_file, source_dict

    specs = load_seed_file(path)
    for spec in specs:
        check_new_source(spec.url, allowed=app.settings.fetch_networks)
    with app.store.session() as session:
        added, skipped = import_sources(session, specs)
        rows = [source_dict(s) for s in added]
    if as_json:
        emit_json({"added": rows, "skipped": skipped})
    else:
        click.echo(f"imported {len(rows)} source(s), {len(skipped)} already watched")


# --- check / history / diff ---------------------------------------------------------------------


@cli.command("check")
@click.argument("refs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source checked.")
@pass_app
def check(app: AppContext, refs: tuple[str, ...], as_json: bool) -> None:
    """Fetch the named sources now (all sources when none is named), whatever their due time. Site
    sources discover new pages, which are checked too."""
    # lazy import: start-up time
    from watcher.pipeline.run import check_with_discovery
    from watcher.sources import list_source_ids, resolve_source

    with app.store.session() as session:
        # All sources by id only: the rows of thousands of sources are not loaded at once.
        chosen = [resolve_source(session, ref).id for ref in refs] if refs else list_source_ids(session)
        ids = list(dict.fromkeys(chosen))
    if not ids:
        raise InputError("no sources to check: add one with `watcher sources add URL`")
    stream = check_with_discovery(app.store, ids, settings=app.settings)
    if as_json:
        emit_json_list(r.to_dict() for r in stream)  # written as they come: a long run holds none
        return
    if sys.stderr.isatty():
        with click.progressbar(stream, length=len(ids), label="checking", file=sys.stderr) as bar:
            stream = iter(list(bar))  # the bar first, then the lines
    counts: Counter[str] = Counter()
    for r in stream:
        snap = f"snapshot {r.snapshot_id}" if r.snapshot_id else ""
        detail = r.error or snap
        click.echo(f"{r.outcome:<12} {r.http_status or '-':>4}  {r.url}  {detail}".rstrip())
        counts[r.outcome] += 1
    click.echo("checked {}: {}".format(counts.total(), ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))


# `watcher history` lives in watcher/cli/history.py with the other history commands.


@cli.command("diff")
@click.argument("ref")
@click.option("--from", "from_id", type=int, help="Snapshot id of the old version.")
@click.option("--to", "to_id", type=int, help="Snapshot id of the new version.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff-match-patch ops as JSON.")
@pass_app
def diff_cmd(app: AppContext, ref: str, from_id: int | None, to_id: int | None, as_json: bool) -> None:
    """Diff two versions of a source (default: the last two snapshots)."""
    # lazy import: start-up time
    from watcher.changes import render_unified
    from watcher.history import diff_versions
    from watcher.sources import resolve_source

    with app.store.session() as session:
        result = diff_versions(
            session, resolve_source(session, ref), from_id=from_id, to_id=to_id, timeout=app.settings.diff_timeout
        )
        data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    click.echo(f"--- snapshot {data['from']['snapshot_id']}  {data['from']['fetched_at'][:19]}")
    click.echo(f"+++ snapshot {data['to']['snapshot_id']}  {data['to']['fetched_at'][:19]}")
    if not result.diff.changed:
        click.echo("(no difference in the extracted text)")
        return
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # https://no-color.org
    click.echo(render_unified(result.diff.lines, color=color))
    click.echo(f"({data['inserted_chars']} characters inserted, {data['deleted_chars']} deleted)")


# --- claims: compare / alerts / reanalyze --------------------------------------------------------

# Text in UTF-16 or UTF-32 is full of NUL bytes; with its byte-order mark it is still text.
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _read_document(path: Path, *, max_bytes: int) -> str:
    """The text of a file to compare: HTML through the same extraction as captures, plain text as is.

    Refused with one line (exit 2), like a capture that cannot be compared: a file larger than
    ``WATCHER_MAX_BODY_BYTES`` (captures are capped there too), binary input (NUL bytes, or bytes
    that no encoding reads: decoding had to replace characters), and a file with no text.
    """
    # lazy import: start-up time
    from watcher.extract import decode_body, extract_document

    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path} is larger than {max_bytes} bytes (WATCHER_MAX_BODY_BYTES)")
    if b"\x00" in data and not data.startswith(_WIDE_BOMS):
        raise InputError(f"{path} is binary (it contains NUL bytes): give an HTML or text file")
    decoded = decode_body(data).text
    if decoded.count("\ufffd") > data.count("\ufffd".encode()):
        raise InputError(f"{path} is binary or in an unknown encoding: its bytes do not decode as text")
    text = extract_document(data, content_type=None).text
    if not text.strip():
        raise InputError(f"{path} is empty: it has no text to compare")
    return text


def _print_finding(item: dict[str, Any]) -> None:
    click.echo(describe_alert(item))
    if item.get("before"):
        click.echo(f"    before: {item['before']}")
    if item.get("after"):
        click.echo(f"    after:  {item['after']}")


@cli.command("compare")
@click.argument("old_file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_app
def compare_cmd(app: AppContext, old_file: Path, new_file: Path, as_json: bool) -> None:
    """Claim findings between two files (HTML or plain text), without touching the database."""
    # lazy import: start-up time
    from watcher.claims import compare_texts

    limit = app.settings.max_body_bytes
    old_text = _read_document(old_file, max_bytes=limit)
    new_text = _read_document(new_file, max_bytes=limit)
    findings = [f.to_dict() for f in compare_texts(old_text, new_text)]
    if as_json:
        emit_json(findings)
        return
    if not findings:
        click.echo("no claim findings")
    for item in findings:
        _print_finding(item)


@cli.command("alerts")
@click.option("--source", "source_ref", help="Only alerts of this source (id or URL).")
@click.option("--kind", help="Only this kind, e.g. new_indication, claim_strengthened, reference_removed.")
@click.option("--indication", help="Only this indication id, e.g. schizophrenia.")
@click.option("--since", help="Only alerts whose new capture is on or after this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def alerts_cmd(
    app: AppContext, source_ref: str | None, kind: str | None, indication: str | None, since: str | None, as_json: bool
) -> None:
    """List alerts, oldest first."""
    # lazy import: start-up time
    from watcher.queries.alerts import find_alerts
    from watcher.queries.dates import parse_when
    from watcher.sources import resolve_source

    since_at = parse_when(since)
    with app.store.session() as session:
        source_id = resolve_source(session, source_ref).id if source_ref else None
        rows = find_alerts(session, source_id=source_id, kind=kind, indication=indication, since=since_at)
    emit_rows(rows, as_json=as_json, empty="no alerts", show=_print_alert)


def _print_alert(row: dict[str, Any]) -> None:
    click.echo(f"#{row['id']} {row['new_fetched_at'][:10]} {row['clinic'] or '-'}  {row['source_url']}")
    _print_finding(row)


@cli.command("reanalyze")
@pass_app
def reanalyze_cmd(app: AppContext) -> None:
    """Rebuild text versions and claim profiles from stored snapshots (after rule or vocabulary
    changes). Raises no alerts."""
    # lazy import: start-up time
    from watcher.pipeline.analyse import reanalyze

    with app.store.session() as session:
        report = reanalyze(session)
    click.echo(
        f"re-extracted {report.text_versions_created} text version(s), "
        f"rebuilt {report.profiles_rebuilt} claim profile(s)"
    )


# --- demo ---------------------------------------------------------------------------------------


@cli.command("demo")
@click.option("--rounds", type=click.IntRange(1, 20), default=None, help="Rounds to run (default: all).")
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo database in this directory (default: a temporary one).",
)
def demo_cmd(rounds: int | None, keep: Path | None) -> None:
    """Run the whole pipeline against the bundled demo site on a fresh embedded database."""
    # lazy import: start-up time
    from watcher.demo.run import run_demo

    run_demo(rounds=rounds, keep=keep, echo=click.echo, command=_this_command())


def _this_command() -> str:
    """How to run this same watcher command again from here, for the hints a command prints:
    ``.venv/bin/watcher`` as the README's install leaves it, ``watcher`` when that is what PATH finds."""
    program = Path(sys.argv[0]).resolve()
    found = shutil.which("watcher")
    if found is not None and Path(found).resolve() == program:
        return "watcher"
    if program.name != "watcher" or not program.exists():
        return "watcher"
    try:
        relative = program.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(program)
    return relative if "/" in relative else f"./{relative}"


for _module in (notify, service, history, report):
    _module.register(cli)


def _is_database_error(error: Exception) -> bool:
    # SQLAlchemy is only loaded by commands that open the database (start-up time: see the module
    # docstring); an error of a command that never loaded it cannot be one of its errors.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(error, sqlalchemy_exc.SQLAlchemyError)


def main(argv: list[str] | None = None) -> int:
    try:
        status = cli.main(args=argv, prog_name="watcher", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        return error.exit_code
    except WatcherError as error:
        click.echo(f"error: {error}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as error:
        if not _is_database_error(error):
            raise
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        click.echo(f"error: database: {first}", err=True)
        return 2
    return status if isinstance(status, int) else 0
