"""History commands for journalists: ``history`` (timeline, ``--at``), ``search``, ``reindex`` (the
search index of an existing store), ``claims``, ``export``, ``import-warc``, ``backfill`` (history from
web archives) and ``serve`` (the JSON API).

Each command parses its options, calls the query functions shared with the API and dashboard
(``watcher.queries``, ``watcher.search``, ``watcher.export``, ``watcher.warc``) and prints.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from watcher.cli.app import AppContext, emit_json, pass_app
from watcher.errors import FetchError, InputError


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "-"


def _strength(value: int | None) -> str:
    # lazy import: start-up time
    from watcher.queries.timeline import describe_strength

    return describe_strength(value if value else None)


def _indications(indications: dict[str, int] | None) -> str:
    if indications is None:
        return "(not analysed)"
    if not indications:
        return "none"
    ordered = sorted(indications.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {_strength(value)}" for name, value in ordered)


def _changes(changes: list[dict[str, Any]]) -> str:
    parts = []
    for change in changes:
        before, after = change["before"], change["after"]
        if before is None:
            parts.append(f"+{change['indication']} ({_strength(after)})")
        elif after is None:
            parts.append(f"-{change['indication']} (was {_strength(before)})")
        else:
            parts.append(f"{change['indication']} {_strength(before)} → {_strength(after)}")
    return "; ".join(parts)


def _print_timeline(data: dict[str, Any]) -> None:
    src = data["source"]
    click.echo(f"source {src['id']}: {src['url']}  ({src['clinic'] or 'no clinic'}, every {src['interval']})")
    click.echo(f"{len(data['checks'])} check(s), {len(data['snapshots'])} snapshot(s)")
    snapshots = {s["id"]: s for s in data["snapshots"]}
    shown: set[int] = set()
    events = [(c["checked_at"], 0, c) for c in data["checks"]]
    events += [
        (s["fetched_at"], 1, s)
        for s in data["snapshots"]
        if not any(c["snapshot_id"] == s["id"] for c in data["checks"])
    ]
    for _at, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            status = item["http_status"] or "-"
            line = f"{_when(item['checked_at'])}  check #{item['id']:<5} {item['outcome']:<12} {status:>4}"
            if item["rendered"]:
                line += "  (rendered)"
            if item["error"]:
                line += f"  {item['error']}"
            click.echo(line)
            if item["hint"]:
                click.echo(f"    hint: {item['hint']}")
            if item["extraction_doubt"]:
                click.echo(f"    doubtful extraction: {item['extraction_doubt']}")
            snapshot = snapshots.get(item["snapshot_id"]) if item["snapshot_id"] else None
        else:
            snapshot = item
            click.echo(f"{_when(item['fetched_at'])}  (snapshot without a check row)")
        if snapshot is None or snapshot["id"] in shown:
            continue
        shown.add(snapshot["id"])
        click.echo(
            f"    snapshot #{snapshot['id']}  sha256 {snapshot['sha256']}  {snapshot['size']} B  "
            f"{snapshot['title'] or ''}".rstrip()
        )
        if snapshot.get("screenshot"):
            shot = snapshot["screenshot"]
            click.echo(f"    screenshot #{shot['id']}  sha256 {shot['sha256']}  {shot['size']} B")
        click.echo(f"    claims: {_indications(snapshot['indications'])}")
        if snapshot["indication_changes"]:
            click.echo(f"    changed: {_changes(snapshot['indication_changes'])}")
        for alert in snapshot["alerts"]:
            again = "  (recurrence)" if alert["recurrence"] else ""
            click.echo(f"    alert #{alert['id']} {alert['description']}{again}")


@click.command("history")
@click.argument("ref")
@click.option(
    "--at",
    "at",
    metavar="DATE",
    help="Print the text as it was at DATE: the latest snapshot fetched at or before it "
    "(YYYY-MM-DD means the end of that day, UTC).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: source, checks, snapshots (with indications and alerts); with --at, the snapshot and its text.",
)
@pass_app
def history_cmd(app: AppContext, ref: str, at: str | None, as_json: bool) -> None:
    """Checks and snapshots of one source (by id or URL), with the claims and alerts of each version."""
    # lazy import: start-up time
    from watcher.queries.dates import parse_when
    from watcher.queries.timeline import timeline, version_at
    from watcher.sources import resolve_source

    moment = parse_when(at, end_of_day=True)
    with app.store.session() as session:
        source = resolve_source(session, ref)
        data = version_at(session, source, moment) if moment is not None else timeline(session, source)
    if as_json:
        emit_json(data)
        return
    if moment is None:
        _print_timeline(data)
        return
    snap = data["snapshot"]
    until = (
        f", in force until {_when(data['next_snapshot']['fetched_at'])}"
        if data["next_snapshot"]
        else ", still the latest"
    )
    click.echo(
        f"source {data['source']['id']} as of {_when(data['at'])} UTC: snapshot #{snap['id']} fetched "
        f"{_when(snap['fetched_at'])}{until}; sha256 {snap['sha256']}",
        err=True,
    )
    click.echo(data["text"] if data["text"] is not None else "(no text was extracted from this snapshot)")


@click.command("search")
@click.argument("text")
@click.option("--clinic", metavar="NAME", help="Only pages of this clinic.")
@click.option("--since", metavar="DATE", help="Only versions fetched on or after DATE.")
@click.option("--until", metavar="DATE", help="Only versions fetched on or before DATE (a bare date includes it).")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True, help="At most this many pages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per source.")
@pass_app
def search_cmd(
    app: AppContext, text: str, clinic: str | None, since: str | None, until: str | None, limit: int, as_json: bool
) -> None:
    """Full-text search over every stored version (Japanese without spaces included; through the
    index of distinct passages), per page:
    first and last seen, in how many versions, and an excerpt."""
    # lazy import: start-up time
    from watcher.queries.clinics import resolve_clinic
    from watcher.queries.dates import parse_when
    from watcher.search import search

    with app.store.session() as session:
        clinic_id = resolve_clinic(session, clinic).id if clinic else None
        hits = search(
            session,
            text,
            clinic_id=clinic_id,
            since=parse_when(since),
            until=parse_when(until, end_of_day=True),
            limit=limit,
        )
    if as_json:
        emit_json(hits)
        return
    if not hits:
        click.echo(f"no stored version contains {text.strip()!r}", err=True)
    for hit in hits:
        if hit["present_now"]:
            state = "still there"
        elif hit["gone_at"]:
            state = f"gone since {_when(hit['gone_at'])} (snapshot #{hit['gone_snapshot_id']})"
        else:
            state = "after --until: not looked at"
        click.echo(f"{hit['clinic'] or '-'}  {hit['source_url']}  (source {hit['source_id']})")
        click.echo(
            f"  first seen {_when(hit['first_seen'])} (snapshot #{hit['first_snapshot_id']}), last seen "
            f"{_when(hit['last_seen'])} (snapshot #{hit['last_snapshot_id']}), in {hit['versions']} "
            f"version(s); {state}"
        )
        click.echo(f"  {hit['excerpt']}")


@click.command("reindex")
@click.option("--limit", type=click.IntRange(1), help="Rebuild at most this many sources this run.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: sources_rebuilt, occurrences, sources_left.")
@pass_app
def reindex_cmd(app: AppContext, limit: int | None, as_json: bool) -> None:
    """Build the search index (distinct passages and their intervals) of the sources whose stored
    versions it does not cover yet; resumable (work is committed as it goes) and idempotent."""
    # lazy import: start-up time
    from watcher.pipeline.passages import reindex

    with app.store.session() as session:
        report = reindex(session, limit=limit, commit=session.commit)
    if as_json:
        emit_json(
            {
                "sources_rebuilt": report.sources_rebuilt,
                "occurrences": report.occurrences,
                "sources_left": report.sources_left,
            }
        )
        return
    click.echo(
        f"indexed {report.sources_rebuilt} source(s) ({report.occurrences} passage interval(s)); "
        f"{report.sources_left} left"
    )


def _print_claims(data: dict[str, Any]) -> None:
    if not data["timelines"]:
        click.echo("no claims recorded", err=True)
        return
    clinic = object()
    for timeline in data["timelines"]:
        if timeline["clinic"] != clinic:
            clinic = timeline["clinic"]
            click.echo(f"{clinic or '(no clinic) ' + timeline['steps'][0]['source_url']}")
        first = timeline["first_claimed"]
        before = (
            f"; the page before: snapshot #{first['previous_snapshot_id']} of {_when(first['previous_fetched_at'])}"
            if first["previous_snapshot_id"]
            else "; first version of the page"
        )
        click.echo(
            f"  {timeline['indication']}: first claimed {_when(first['at'])} ({_strength(first['strength'])}) "
            f"in snapshot #{first['snapshot_id']} of {first['source_url']} (source {first['source_id']})"
            f"{before}"
        )
        if first["previous_snapshot_id"]:
            source_id = first["source_id"]
            click.echo(
                f"    the page just before: watcher history {source_id} --at {first['previous_fetched_at']}"
                f"  (what changed: watcher diff {source_id} --from {first['previous_snapshot_id']} "
                f"--to {first['snapshot_id']})"
            )
        now = (
            f"claimed now ({_strength(timeline['current_strength'])}) since {_when(timeline['claimed_since'])}"
            if timeline["claimed_now"]
            else f"dropped {_when(timeline['dropped_at'])}"
        )
        steps = " → ".join(
            f"{_when(step['at'])} {_strength(step['strength']) if step['strength'] else 'dropped'} "
            f"(#{step['snapshot_id']})"
            for step in timeline["steps"]
        )
        click.echo(f"    {now}; steps: {steps}")
    if data["current"]:
        click.echo("claimed now, across clinics:")
        for item in data["current"]:
            clinics = ", ".join(
                f"{c['clinic'] or c['source_url']} ({_strength(c['strength'])}, since {_when(c['since'])})"
                for c in item["clinics"]
            )
            click.echo(f"  {item['indication']}: {clinics}")


@click.command("claims")
@click.option("--clinic", metavar="NAME", help="Only this clinic.")
@click.option("--indication", metavar="ID", help="Only this indication id, e.g. schizophrenia.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: timelines (with steps) and current claims.")
@pass_app
def claims_cmd(app: AppContext, clinic: str | None, indication: str | None, as_json: bool) -> None:
    """Claim timelines: per clinic and indication, first claimed, strength over time, dropped; and which
    clinics claim each indication now."""
    # lazy import: start-up time
    from watcher.queries.claims import claim_timelines
    from watcher.queries.clinics import resolve_clinic

    with app.store.session() as session:
        clinic_id = resolve_clinic(session, clinic).id if clinic else None
        data = claim_timelines(session, clinic_id=clinic_id, indication=indication.strip() if indication else None)
    if as_json:
        emit_json(data)
    else:
        _print_claims(data)


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "warc", "wacz"]),
    required=True,
    help="csv/json: a table (see --what); warc: the raw captures as WARC 1.1; wacz: the WARC, its CDXJ "
    "index and a page list packaged as WACZ 1.1.1 (needs --output FILE.wacz).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE (default: stdout); a WARC whose name ends in .gz is gzipped per record.",
)
@click.option(
    "--what",
    type=click.Choice(["alerts", "claims", "snapshots"]),
    default=None,
    help="What to export as csv/json (default: alerts); a WARC always holds snapshots.",
)
@click.option("--clinic", metavar="NAME", help="Only this clinic.")
@click.option("--source", "source_ref", metavar="URL|ID", help="Only this source.")
@click.option("--since", metavar="DATE", help="Only captures (alerts: their new capture) on or after DATE.")
@click.option("--until", metavar="DATE", help="Only captures on or before DATE (a bare date includes it).")
@click.option("--kind", metavar="K", help="Alerts: only this kind (see `watcher alerts`).")
@click.option("--indication", metavar="ID", help="Alerts and claims: only this indication (an id or a name).")
@click.option("--excel", is_flag=True, help="CSV for Excel: a byte-order mark and CRLF line ends (Japanese intact).")
@pass_app
def export_cmd(
    app: AppContext,
    fmt: str,
    output: Path | None,
    what: str | None,
    clinic: str | None,
    source_ref: str | None,
    since: str | None,
    until: str | None,
    kind: str | None,
    indication: str | None,
    excel: bool,
) -> None:
    """Export alerts, claim timelines or snapshot metadata (CSV, JSON), or the captures as WARC."""
    # lazy import: start-up time
    from watcher.export import ExportFilter, export_table, export_warc
    from watcher.queries.clinics import resolve_clinic
    from watcher.queries.dates import parse_when
    from watcher.sources import resolve_source
    from watcher.wacz import export_wacz
    from watcher.warc import cdxj_path, write_cdxj

    if fmt in ("warc", "wacz") and what not in (None, "snapshots"):
        raise InputError(f"a {fmt.upper()} holds captures: --what {what} needs --format csv or json")
    if fmt == "wacz" and (output is None or not output.name.endswith(".wacz")):
        raise InputError("--format wacz writes a ZIP file: give --output FILE.wacz")
    since_at, until_at = parse_when(since), parse_when(until, end_of_day=True)
    with app.store.session() as session:
        filters = ExportFilter(
            clinic_id=resolve_clinic(session, clinic).id if clinic else None,
            source_id=resolve_source(session, source_ref).id if source_ref else None,
            since=since_at,
            until=until_at,
            kind=kind,
            indication=indication,
        )
        if fmt == "wacz" and output is not None:
            report = export_wacz(session, output, filters=filters)
            click.echo(
                f"exported {report.snapshots} snapshot(s) as WACZ to {output} "
                f"({report.pages} page(s), {report.index_lines} index line(s))",
                err=True,
            )
            return
        if fmt == "warc":
            gzip = output is not None and output.name.endswith(".gz")
            if output is None:
                count = export_warc(session, sys.stdout.buffer, filters=filters, gzip=False)
            else:
                with _open_output(output, "wb") as stream:
                    count = export_warc(session, stream, filters=filters, gzip=gzip, filename=output.name)
                index = cdxj_path(output)
                with _open_output(index, "w") as stream:
                    write_cdxj(output, stream)
                click.echo(f"wrote the CDXJ index {index}", err=True)
            click.echo(
                f"exported {count} snapshot(s) as WARC{' (gzip per record)' if gzip else ''}"
                f"{' to ' + str(output) if output else ''}",
                err=True,
            )
            return
        body = export_table(session, what=what or "alerts", fmt=fmt, filters=filters, excel=excel)
    if output is None:
        click.echo(body, nl=False)
    else:
        with _open_output(output, "w") as stream:
            stream.write(body)
        click.echo(f"exported {what or 'alerts'} as {fmt} to {output}", err=True)


def _open_output(path: Path, mode: str) -> Any:
    try:
        return path.open(mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None


@click.command("import-warc")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--clinic", metavar="NAME", help="Clinic of the sources created for URLs not watched yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@pass_app
def import_warc_cmd(app: AppContext, path: Path, clinic: str | None, as_json: bool) -> None:
    """Backfill history from a WARC file (Wayback Machine, Webrecorder, `watcher export`) through the
    same processing as live captures, oldest first. Importing a file twice adds nothing."""
    # lazy import: start-up time
    from watcher.warc import import_warc

    report = import_warc(app.store, path, settings=app.settings, clinic=clinic.strip() if clinic else None).to_dict()
    if as_json:
        emit_json(report)
        return
    outcomes = ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()) or "none"
    click.echo(
        f"read {report['records']} record(s), {report['responses']} response(s): "
        f"{report['checks']} check(s) recorded ({outcomes}), {report['snapshots']} new snapshot(s), "
        f"{len(report['sources_created'])} new source(s)"
    )
    skipped = {
        "already imported": report["already_imported"],
        "older than stored history": report["skipped_older"],
        "not pages": report["skipped_not_pages"],
        "bad URLs": report["skipped_bad_urls"],
    }
    _echo_skipped(skipped)


@click.command("backfill")
@click.argument("ref", metavar="URL|ID")
@click.option(
    "--archive",
    metavar="BASE",
    help="Wayback-compatible archive: what precedes /TIMESTAMP/URL in its capture URLs "
    "(default WATCHER_ARCHIVE_URL, the Internet Archive's https://web.archive.org/web).",
)
@click.option("--from", "since", metavar="DATE", help="Only captures on or after this date (YYYY-MM-DD).")
@click.option("--to", "until", metavar="DATE", help="Only captures on or before this date (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Record at most N new captures in this run.")
@click.option("--json", "as_json", is_flag=True, help="Print the backfill report as JSON.")
@pass_app
def backfill_cmd(
    app: AppContext,
    ref: str,
    archive: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Record a source's earlier captures from a web archive as history, oldest first (no mail is
    sent for them). Running it again adds nothing and resumes an interrupted run."""
    # lazy import: start-up time
    from watcher.queries.dates import check_range, parse_when
    from watcher.sources import resolve_source

    since_at, until_at = parse_when(since), parse_when(until, end_of_day=True)
    check_range(since_at, until_at)
    with app.store.session() as session:
        source_id = resolve_source(session, ref).id
    run_backfill(app, [source_id], archive=archive, since=since_at, until=until_at, limit=limit, as_json=as_json)


def run_backfill(
    app: AppContext,
    source_ids: list[int],
    *,
    archive: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    as_json: bool = False,
) -> None:
    """Backfill each source and print its report; an archive that failed ends with a one-line error."""
    # lazy import: start-up time
    from watcher.backfill import backfill
    from watcher.config import parse_archive_base

    base = None
    if archive is not None:
        try:
            base = parse_archive_base(archive)
        except ValueError as error:
            raise InputError(f"--archive {archive!r}: {error}") from None
    reports = []
    for source_id in source_ids:
        report = backfill(
            app.store, source_id, settings=app.settings, archive=base, since=since, until=until, limit=limit
        )
        reports.append(report.to_dict())
        if not as_json:
            _print_backfill(reports[-1])
    if as_json:
        emit_json(reports[0] if len(reports) == 1 else reports)
    stopped = [r for r in reports if r["stopped"]]
    if stopped:
        raise FetchError(f"backfill stopped: {stopped[0]['stopped']}", kind="archive", transient=True)


def _print_backfill(report: dict[str, Any]) -> None:
    for item in report["recorded"]:
        snap = f"snapshot {item['snapshot_id']}" if item["snapshot_id"] else ""
        detail = item["error"] or snap
        click.echo(
            f"{item['outcome']:<12} {item['http_status'] or '-':>4}  {item['captured_at'][:19]}  {detail}".rstrip()
        )
    outcomes = ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()) or "none"
    click.echo(
        f"backfilled source {report['source_id']} from {report['archive']} ({report['listed_via']}): "
        f"{report['listed']} capture(s) listed, {report['checks']} recorded ({outcomes}), "
        f"{report['snapshots']} new snapshot(s)"
    )
    skipped = {
        "duplicate digests": report["duplicates"],
        "already recorded": report["already_recorded"],
        "not served by the archive": report["unavailable"],
        "left by --limit": report["left_by_limit"],
    }
    _echo_skipped(skipped)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@pass_app
def serve_cmd(app: AppContext, host: str, port: int) -> None:
    """Serve the JSON API (/api, OpenAPI at /openapi.json) and the other web routers with uvicorn."""
    # lazy import: start-up time (the web stack is loaded only to serve)
    import uvicorn

    from watcher.web.app import create_app

    settings = app.settings
    if host not in ("127.0.0.1", "::1", "localhost") and not settings.api_read_token_required:
        logging.getLogger("watcher").warning(
            "serving on %s with open reads: anyone who can reach it can read the history "
            "(set WATCHER_API_READ_TOKEN_REQUIRED=1 to require the token)",
            host,
        )
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


def register(cli: click.Group) -> None:
    for command in (
        history_cmd,
        search_cmd,
        reindex_cmd,
        claims_cmd,
        export_cmd,
        import_warc_cmd,
        backfill_cmd,
        serve_cmd,
    ):
        cli.add_command(command)


def _echo_skipped(skipped: dict[str, int]) -> None:
    """One line naming what a WARC import or a backfill passed over, and why; nothing when nothing was."""
    if any(skipped.values()):
        click.echo("skipped: " + ", ".join(f"{count} {why}" for why, count in skipped.items() if count))
