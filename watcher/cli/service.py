"""``watcher run``: the scheduler service (see watcher.scheduler)."""

from __future__ import annotations

import logging

import click

from watcher.cli.app import AppContext, pass_app


@click.command("run")
@click.option(
    "--tick",
    type=click.FloatRange(0.1, 86400),
    default=None,
    help="Seconds between looks for due sources (default: WATCHER_SCHEDULER_TICK, 60).",
)
@click.option("--once", is_flag=True, help="Check what is due and send due notifications once, then exit.")
@pass_app
def run_cmd(app: AppContext, tick: float | None, once: bool) -> int:
    """Run the scheduler: check each source at its own interval until SIGTERM or SIGINT."""
    # lazy import: start-up time
    from watcher.scheduler import Service

    level = getattr(logging, app.settings.log_level)
    if level > logging.DEBUG:
        # One line per run: the per-check lines and APScheduler's job chatter are debug detail here.
        for name in ("watcher.pipeline.run", "watcher.pipeline.record"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("watcher.scheduler.apscheduler").setLevel(logging.WARNING)
    service = Service(app.store, app.settings, tick=tick)
    return service.once() if once else service.serve()


def register(cli: click.Group) -> None:
    cli.add_command(run_cmd)
