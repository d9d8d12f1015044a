"""E-mail commands: ``subscribe``, ``unsubscribe``, ``subscriptions`` and ``notify``."""

from __future__ import annotations

from typing import Any

import click

from watcher.cli.app import AppContext, emit_json, emit_rows, pass_app


def _describe_subscription(row: dict[str, Any]) -> str:
    filters = []
    for key in ("clinics", "sources", "kinds", "indications", "categories"):
        if row[key]:
            filters.append(f"{key} {', '.join(row[key])}")
    if row["min_severity"] != "low":
        filters.append(f"severity ≥ {row['min_severity']}")
    state = "" if row["active"] else "  (inactive)"
    return (
        f"#{row['id']:<4} {row['email']:<32} {row['mode']:<9} {'; '.join(filters) or 'all alerts'}"
        f"  token {row['unsubscribe_token']}{state}"
    )


@click.command("subscribe")
@click.argument("email")
@click.option("--clinic", "clinics", multiple=True, metavar="NAME", help="Only alerts of this clinic (repeatable).")
@click.option("--source", "sources", multiple=True, metavar="URL|ID", help="Only alerts of this source (repeatable).")
@click.option(
    "--kind", "kinds", multiple=True, metavar="K", help="Only this alert kind, e.g. new_indication (repeatable)."
)
@click.option(
    "--indication",
    "indications",
    multiple=True,
    metavar="I",
    help="Only this indication id, e.g. schizophrenia (repeatable).",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="C",
    help="Only alerts in this guideline category, e.g. testimonial or 体験談 (repeatable).",
)
@click.option(
    "--min-severity",
    default="low",
    show_default=True,
    metavar="low|medium|high",
    help="Only alerts of at least this severity.",
)
@click.option(
    "--digest",
    "mode",
    default="immediate",
    show_default=True,
    metavar="immediate|daily",
    help="One mail per alert, or one daily digest at WATCHER_DIGEST_HOUR (UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the subscription as JSON.")
@pass_app
def subscribe_cmd(
    app: AppContext,
    email: str,
    clinics: tuple[str, ...],
    sources: tuple[str, ...],
    kinds: tuple[str, ...],
    indications: tuple[str, ...],
    categories: tuple[str, ...],
    min_severity: str,
    mode: str,
    as_json: bool,
) -> None:
    """Mail alerts detected from now on to EMAIL (never earlier ones)."""
    # lazy import: start-up time
    from watcher.subscriptions import SubscriptionSpec, create_subscription, subscription_dict

    spec = SubscriptionSpec(
        email=email,
        mode=mode.strip().lower(),
        clinics=list(clinics),
        sources=list(sources),
        kinds=list(kinds),
        indications=list(indications),
        categories=list(categories),
        min_severity=min_severity.strip().lower(),
    )
    with app.store.session() as session:
        subscription, created = create_subscription(session, spec)
        row = subscription_dict(session, subscription)
    if as_json:
        emit_json({**row, "created": created})
        return
    verb = "subscribed" if created else "already subscribed"
    click.echo(f"{verb}: {_describe_subscription(row)}")
    if not app.settings.smtp_host:
        click.echo("note: e-mail is disabled until WATCHER_SMTP_HOST is set", err=True)


@click.command("unsubscribe")
@click.argument("ref", metavar="EMAIL|TOKEN")
@click.option("--id", "subscription_id", type=int, help="Only this subscription of the address.")
@pass_app
def unsubscribe_cmd(app: AppContext, ref: str, subscription_id: int | None) -> None:
    """Stop mailing an address (all its subscriptions, or --id N), or the subscription of a token."""
    # lazy import: start-up time
    from watcher.subscriptions import unsubscribe

    with app.store.session() as session:
        removed = unsubscribe(session, ref, subscription_id=subscription_id)
        lines = [f"unsubscribed #{s.id} {s.email} ({s.mode})" for s in removed]
    for line in lines:
        click.echo(line)


@click.command("subscriptions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def subscriptions_cmd(app: AppContext, as_json: bool) -> None:
    """List the active subscriptions."""
    # lazy import: start-up time
    from watcher.subscriptions import list_subscriptions, subscription_dict

    with app.store.session() as session:
        rows = [subscription_dict(session, s) for s in list_subscriptions(session)]
    emit_rows(
        rows,
        as_json=as_json,
        empty="no subscriptions: add one with `watcher subscribe EMAIL`",
        show=lambda row: click.echo(_describe_subscription(row)),
    )


@click.command("notify")
@click.option("--retry-failed", is_flag=True, help="First give failed deliveries a fresh set of attempts.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's counts as JSON.")
@pass_app
def notify_cmd(app: AppContext, retry_failed: bool, as_json: bool) -> None:
    """Enqueue new alerts for the subscriptions and send the e-mails that are due."""
    # lazy import: start-up time
    from watcher.notify.outbox import email_enabled, notify, outbox_counts
    from watcher.notify.outbox import retry_failed as reset_failed

    settings = app.settings
    if not email_enabled(settings):
        if as_json:
            emit_json({"disabled": True})
        else:
            click.echo("e-mail is disabled: set WATCHER_SMTP_HOST to send alerts (nothing enqueued or sent)")
        return
    reset = reset_failed(app.store) if retry_failed else 0
    report = notify(app.store, settings)
    counts = outbox_counts(app.store)
    if as_json:
        emit_json({**report.to_dict(), "reset": reset, "outbox": counts})
        return
    send = report.send
    click.echo(
        f"enqueued {report.enqueued} alert mail(s), {report.digested} alert(s) into digests; "
        f"sent {send.sent}, retrying {send.retrying}, failed {send.failed}, cancelled {send.cancelled}"
        + (f"; {reset} failed delivery(ies) reset" if retry_failed else "")
    )
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    if pending:
        click.echo(
            f"outbox: {pending} delivery(ies) waiting (digests wait for WATCHER_DIGEST_HOUR, failed attempts back off)"
        )
    for error in send.errors:
        click.echo(f"smtp: {error}", err=True)


def register(cli: click.Group) -> None:
    for command in (subscribe_cmd, unsubscribe_cmd, subscriptions_cmd, notify_cmd):
        cli.add_command(command)
