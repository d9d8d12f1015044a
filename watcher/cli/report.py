"""``watcher report``: the regulator's report of one clinic (see watcher.queries.regulation)."""

from __future__ import annotations

from pathlib import Path

import click

from watcher.cli.app import AppContext, pass_app
from watcher.cli.history import _open_output


@click.command("report")
@click.option("--clinic", required=True, metavar="NAME", help="The clinic to report on (its name).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "csv", "json"]),
    default="html",
    show_default=True,
    help="A self-contained HTML page, one CSV row per page × finding, or JSON.",
)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--excel", is_flag=True, help="With --format csv: a byte-order mark and CRLF line ends for Excel.")
@pass_app
def report_cmd(app: AppContext, clinic: str, fmt: str, output: Path | None, excel: bool) -> None:
    """Per page of a clinic: its medical-advertising guideline categories with evidence sentences, its
    missing required disclosures, and when each was first and last seen (capture dates, SHA-256)."""
    # lazy import: start-up time
    from watcher.models import utcnow
    from watcher.queries.regulation import regulation_report
    from watcher.web.report import report_text

    with app.store.session() as session:
        report = regulation_report(session, clinic=clinic)
    body = report_text(report, fmt, generated=utcnow(), excel=excel and fmt == "csv")
    if output is None:
        click.echo(body, nl=False)
        return
    with _open_output(output, "w") as stream:
        stream.write(body)
    findings = sum(len(page["categories"]) + len(page["missing_disclosures"]) for page in report["pages"])
    click.echo(
        f"report on {report['clinic']}: {len(report['pages'])} page(s), {findings} finding(s), "
        f"written as {fmt} to {output}",
        err=True,
    )


def register(cli: click.Group) -> None:
    cli.add_command(report_cmd)
